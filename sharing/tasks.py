"""Background sharing work (django-tasks): large recalculations run on a worker."""

from django_tasks import task

from sharing import recalc


@task()
def recalculate_sharing(rule_ids: list[int] | None = None) -> dict:
    return recalc.recalculate_rules(rule_ids)
