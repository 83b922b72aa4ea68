"""The Django admin: read-only trackers changed only through lifecycle actions,
sharing applied to every tracker page, and a changelist that stays fast.

Users follow the suite's pattern: ``rep`` owns trackers, ``teammate`` owns
others, ``admin_user`` is a superuser.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadence_site import registry
from sharing import services
from sharing.models import (
    ActionCadenceTrackerOwnerSharingRule,
    ApiToken,
    Group,
    GroupMember,
    Organization,
    User,
)
from tests.factories import (
    ContactFactory,
    GroupMemberFactory,
    InvoiceFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    RuleFactory,
    UserFactory,
    UserRoleFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.admin import BoundedCountPaginator
from trackers.choices import (
    BulkJobStatus,
    CadenceState,
    ChangeType,
    CompletionReason,
    StepType,
    TrackerState,
)
from trackers.models import (
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
    Lead,
    Opportunity,
    RecycleBinTracker,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:trackers_actioncadencetracker_changelist"
TRACKER_COLUMNS = (
    "Id",
    "TargetId",
    "ActionCadenceId",
    "OwnerId",
    "State",
    "CompletionReason",
    "CompletionDisposition",
    "IsTrackerActive",
    "LastModifiedDate",
)


# --------------------------------------------------------------------------- helpers


def staff(user, *codenames):
    """Make ``user`` staff with these trackers-app permissions (a fresh instance: no perm cache)."""
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="trackers", codename__in=codenames)
    )
    return User.objects.get(pk=user.pk)


def tracker_url(tracker, view="change"):
    return reverse(f"admin:trackers_actioncadencetracker_{view}", args=[tracker.pk])


def choose(client, action, records, url=None, **data):
    """The changelist's "Go" button: run ``action`` on ``records``, then land back on the list."""
    payload = {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in records], "index": "0"}
    return client.post(url or reverse(CHANGELIST), {**payload, **data}, follow=True)


def confirm(client, action, records, url=None, **data):
    """The intermediate page's confirm button (it posts no "index")."""
    payload = {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in records], "apply": "yes"}
    return client.post(url or reverse(CHANGELIST), {**payload, **data}, follow=True)


def messages_of(response, level=None):
    """The messages shown on the page the action ended on."""
    return [
        str(message)
        for message in get_messages(response.wsgi_request)
        if level is None or message.level_tag == level
    ]


def events_of(tracker):
    return list(ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker))


def snapshot(tracker):
    """What a failed action must leave untouched."""
    tracker = ActionCadenceTracker.all_objects.get(pk=tracker.pk)
    return (
        tracker.state,
        tracker.completion_reason,
        tracker.completion_disposition,
        tracker.is_deleted,
        tracker.system_modstamp,
        len(events_of(tracker)),
    )


@pytest.fixture
def cadence():
    return make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL, name="Outbound")


@pytest.fixture
def superuser_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def rep_client(client, rep):
    client.force_login(staff(rep, "view_actioncadencetracker", "change_actioncadencetracker"))
    return client


# --------------------------------------------------------------------------- rendering


def test_changelist_shows_api_name_headers_and_rows(superuser_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    response = superuser_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    headers = [str(header["text"]) for header in response.context["result_headers"]][1:]
    assert headers == list(TRACKER_COLUMNS)
    html = response.content.decode()
    assert tracker.sf_id in html
    assert str(tracker.target) in html and "Outbound" in html


def test_detail_is_read_only_with_registry_labels_timeline_and_events(
    superuser_client, rep, cadence
):
    tracker = running_tracker(owner=rep, cadence=cadence)

    response = superuser_client.get(tracker_url(tracker))

    assert response.status_code == 200
    html = response.content.decode()
    for spec in registry.get("ActionCadenceTracker").fields:
        assert f"{spec.name}:" in html, spec.name
    assert 'name="_save"' not in html  # nothing to edit
    assert "Step 1: MakeACall" in html  # the step timeline
    assert ChangeType.CREATE in html  # the change events
    assert superuser_client.post(tracker_url(tracker), {}).status_code == 403


def test_no_add_and_no_hard_delete_for_trackers(superuser_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    assert (
        superuser_client.get(reverse("admin:trackers_actioncadencetracker_add")).status_code == 403
    )
    assert superuser_client.get(tracker_url(tracker, "delete")).status_code == 403
    actions = superuser_client.get(reverse(CHANGELIST)).context["action_form"].fields["action"]
    assert "delete_selected" not in dict(actions.choices)


@pytest.mark.parametrize("model_admin", list(admin.site._registry.values()), ids=str)
def test_every_admin_page_renders(superuser_client, rep, cadence, model_admin):
    """List, add (or its refusal) and a detail page, for every registered model."""
    running_tracker(owner=rep, cadence=cadence)
    lifecycle.delete_tracker(running_tracker(owner=rep, cadence=cadence), actor=rep)
    RuleFactory(action_cadence=cadence, global_event_type="EmailReply")
    ContactFactory(), OpportunityFactory(), InvoiceFactory()
    GroupMemberFactory(group=QueueFactory(), member_user=UserFactory(role=UserRoleFactory()))
    PermissionGroup.objects.create(name="Sales reps")
    lifecycle.start_bulk("pause", [running_tracker(owner=rep, cadence=cadence)], actor=rep)
    owners = Group.objects.create(name="Owners", developer_name="Owners")
    GroupMember.objects.create(group=owners, member_user=rep)
    services.save_rule(
        ActionCadenceTrackerOwnerSharingRule(
            name="Owners", developer_name="Owners", group=owners, share_with_user=UserFactory()
        ),
        actor=None,
    )
    services.share_tracker(
        running_tracker(owner=rep, cadence=cadence), UserFactory(), "Read", actor=rep
    )
    ApiToken.issue(rep, "CI")
    opts = model_admin.model._meta
    prefix = f"admin:{opts.app_label}_{opts.model_name}"

    listed = superuser_client.get(reverse(f"{prefix}_changelist"), follow=True)
    assert listed.status_code == 200
    add = superuser_client.get(reverse(f"{prefix}_add"))
    assert add.status_code == (200 if model_admin.has_add_permission(add.wsgi_request) else 403)
    record = model_admin.get_queryset(listed.wsgi_request).first()
    assert record is not None
    detail = superuser_client.get(reverse(f"{prefix}_change", args=[record.pk]))
    assert detail.status_code == 200


def test_search_by_15_or_18_character_id(superuser_client, rep, cadence):
    wanted = running_tracker(owner=rep, cadence=cadence)
    other = running_tracker(owner=rep, cadence=cadence)

    for term in (wanted.sf_id, wanted.sf_id[:15], "not-an-id"):
        response = superuser_client.get(reverse(CHANGELIST), {"q": term})
        found = [row.pk for row in response.context["cl"].result_list]
        assert found == ([] if term == "not-an-id" else [wanted.pk])
    assert other.pk not in found


def test_filters_by_state_reason_disposition_and_cadence(superuser_client, rep, cadence):
    removed = running_tracker(owner=rep, cadence=cadence)
    lifecycle.remove_target(removed, actor=rep, disposition="Success")
    elsewhere = running_tracker(owner=rep, cadence=make_cadence(name="Nurture"))

    def listed(**params):
        response = superuser_client.get(reverse(CHANGELIST), params)
        return {row.pk for row in response.context["cl"].result_list}

    assert listed(state__exact="Complete") == {removed.pk}
    assert listed(completion_reason__exact="ManuallyRemoved") == {removed.pk}
    assert listed(disposition="Success") == {removed.pk}
    assert listed(cadence=str(elsewhere.action_cadence_id)) == {elsewhere.pk}


# --------------------------------------------------------------------------- visibility


def test_rep_lists_only_trackers_they_can_read(rep_client, rep, teammate, cadence):
    own = running_tracker(owner=rep, cadence=cadence)
    theirs = running_tracker(owner=teammate, cadence=cadence)

    response = rep_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [own.pk]
    assert theirs.sf_id not in response.content.decode()


def test_a_tracker_the_rep_cannot_read_is_a_404_everywhere(rep_client, rep, teammate, cadence):
    own = running_tracker(owner=rep, cadence=cadence)
    theirs = running_tracker(owner=teammate, cadence=cadence)

    assert rep_client.get(tracker_url(own)).status_code == 200
    assert rep_client.get(tracker_url(theirs)).status_code == 404
    assert rep_client.get(tracker_url(theirs, "history")).status_code == 404
    assert rep_client.get(tracker_url(ActionCadenceTracker(pk=10**9))).status_code == 404


def test_step_trackers_and_events_follow_the_trackers_visibility(client, rep, teammate, cadence):
    own = running_tracker(owner=rep, cadence=cadence)
    theirs = running_tracker(owner=teammate, cadence=cadence)
    client.force_login(
        staff(
            rep,
            "view_actioncadencetracker",
            "view_actioncadencesteptracker",
            "view_actioncadencetrackerchangeevent",
        )
    )

    steps = client.get(reverse("admin:trackers_actioncadencesteptracker_changelist"))
    events = client.get(reverse("admin:trackers_actioncadencetrackerchangeevent_changelist"))

    step_owners = {row.action_cadence_tracker_id for row in steps.context["cl"].result_list}
    event_owners = {row.tracker_id for row in events.context["cl"].result_list}
    assert step_owners == event_owners == {own.pk}
    hidden_step = theirs.step_trackers.first()
    url = reverse("admin:trackers_actioncadencesteptracker_change", args=[hidden_step.pk])
    assert client.get(url).status_code == 404


# --------------------------------------------------------------------------- remove from cadence


def test_remove_shows_an_intermediate_page_with_the_dispositions(rep_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    response = choose(rep_client, "remove_from_cadence", [tracker])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/trackers/action_form.html"
    html = response.content.decode()
    assert tracker.sf_id in html
    assert '<option value="Not Interested">' in html
    assert f'name="{ACTION_CHECKBOX_NAME}" value="{tracker.pk}"' in html
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.RUNNING


def test_remove_with_a_disposition_completes_the_tracker(rep_client, rep, cadence):
    """GIVEN a Running tracker WHEN its owner removes it choosing "Not Interested"
    THEN it is Complete / ManuallyRemoved / "Not Interested", and one UPDATE event says so."""
    tracker = running_tracker(owner=rep, cadence=cadence)
    before = {event.pk for event in events_of(tracker)}

    response = confirm(rep_client, "remove_from_cadence", [tracker], disposition="Not Interested")

    assert response.redirect_chain == [(reverse(CHANGELIST), 302)]
    tracker = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert tracker.state == TrackerState.COMPLETE
    assert tracker.completion_reason == CompletionReason.MANUALLY_REMOVED
    assert tracker.completion_disposition == "Not Interested"
    assert tracker.is_tracker_active is False
    new_events = [event for event in events_of(tracker) if event.pk not in before]
    assert len(new_events) == 1
    event = new_events[0]
    assert event.change_type == ChangeType.UPDATE
    assert {"State", "CompletionReason", "CompletionDisposition", "IsTrackerActive"} <= set(
        event.changed_fields
    )
    assert event.values["CompletionDisposition"] == "Not Interested"
    assert event.commit_user_id == rep.pk
    assert messages_of(response) == [
        "Removed 1 tracker from their cadence with CompletionDisposition Not Interested."
    ]


def test_remove_without_a_disposition(rep_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    confirm(rep_client, "remove_from_cadence", [tracker], disposition="")

    tracker = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert tracker.state == TrackerState.COMPLETE
    assert tracker.completion_disposition is None


def test_removing_a_complete_tracker_reports_it_and_changes_nothing(rep_client, rep, cadence):
    done = running_tracker(owner=rep, cadence=cadence)
    lifecycle.remove_target(done, actor=rep, disposition="Success")
    running = running_tracker(owner=rep, cadence=cadence)
    unchanged = snapshot(done)

    response = confirm(rep_client, "remove_from_cadence", [done, running], disposition="Duplicate")

    assert snapshot(done) == unchanged
    assert ActionCadenceTracker.objects.get(pk=running.pk).completion_disposition == "Duplicate"
    [error] = messages_of(response, "error")
    assert done.sf_id in error and "already Complete" in error
    assert "Removed 1 tracker" in " ".join(messages_of(response))


def test_an_invalid_disposition_is_refused_and_changes_nothing(rep_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)
    unchanged = snapshot(tracker)

    response = confirm(rep_client, "remove_from_cadence", [tracker], disposition="Very Keen")

    assert response.status_code == 200
    assert "Invalid CompletionDisposition" in response.content.decode()
    assert response.context["form"].errors["disposition"]
    assert snapshot(tracker) == unchanged


def test_a_rep_cannot_remove_another_reps_tracker_by_posting_its_id(
    rep_client, rep, teammate, cadence
):
    theirs = running_tracker(owner=teammate, cadence=cadence)
    unchanged = snapshot(theirs)

    response = confirm(rep_client, "remove_from_cadence", [theirs], disposition="Duplicate")

    assert snapshot(theirs) == unchanged
    assert messages_of(response) == [
        "1 selected tracker could not be found; nothing was done to it."
    ]


def test_read_only_access_lets_a_rep_see_but_not_remove(rep_client, rep, teammate, cadence):
    """With a Public Read Only org-wide default the rep lists a teammate's tracker,
    but removing it needs Edit: the lifecycle refuses, and the admin says why."""
    Organization.objects.update_or_create(pk=1, defaults={"tracker_default_access": "Read"})
    theirs = running_tracker(owner=teammate, cadence=cadence)
    unchanged = snapshot(theirs)

    response = confirm(rep_client, "remove_from_cadence", [theirs], disposition="Duplicate")

    assert snapshot(theirs) == unchanged
    [message] = messages_of(response)
    assert theirs.sf_id in message and "Edit access" in message


def test_select_all_matching_removes_through_a_bulk_job(rep_client, rep, teammate, cadence):
    """ "Select all" across pages goes through Processing and a background job."""
    own = [running_tracker(owner=rep, cadence=cadence) for _ in range(3)]
    theirs = running_tracker(owner=teammate, cadence=cadence)

    response = confirm(
        rep_client, "remove_from_cadence", own[:1], select_across="1", disposition="No Response"
    )

    job = BulkJob.objects.get()
    assert job.total == 3 and job.requested_by == rep
    assert {t.state for t in ActionCadenceTracker.objects.filter(owner_user=rep)} == {
        TrackerState.PROCESSING
    }
    assert ActionCadenceTracker.objects.get(pk=theirs.pk).state == TrackerState.RUNNING
    assert f"Bulk job {job.pk}" in messages_of(response)[0]

    lifecycle.run_bulk_job(job.pk)

    assert BulkJob.objects.get().status == BulkJobStatus.DONE
    for tracker in ActionCadenceTracker.objects.filter(owner_user=rep):
        assert tracker.state == TrackerState.COMPLETE
        assert tracker.completion_disposition == "No Response"


def test_a_bulk_change_past_the_job_limit_is_refused(rep_client, rep, cadence, monkeypatch):
    monkeypatch.setattr("trackers.admin.BULK_JOB_LIMIT", 2)
    trackers = [running_tracker(owner=rep, cadence=cadence) for _ in range(3)]
    unchanged = [snapshot(tracker) for tracker in trackers]

    response = confirm(rep_client, "remove_from_cadence", trackers[:1], select_across="1")

    assert [snapshot(tracker) for tracker in trackers] == unchanged
    assert not BulkJob.objects.exists()
    assert "at most 2 trackers" in messages_of(response, "error")[0]


def test_the_confirmation_page_for_select_all_keeps_the_selection(rep_client, rep, cadence):
    trackers = [running_tracker(owner=rep, cadence=cadence) for _ in range(2)]

    response = choose(rep_client, "remove_from_cadence", trackers[:1], select_across="1")

    html = response.content.decode()
    assert 'name="select_across" value="1"' in html
    assert "All 2 trackers matching the current filters" in html
    assert "State Processing" in html  # says it runs in the background


# --------------------------------------------------------------------------- pause, resume, delete


def test_pause_and_resume(rep_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    paused = choose(rep_client, "pause_trackers", [tracker])
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.PAUSED
    assert messages_of(paused) == ["Paused 1 tracker."]

    again = choose(rep_client, "pause_trackers", [tracker])
    [message] = messages_of(again)
    assert tracker.sf_id in message and "Paused" in message

    resumed = choose(rep_client, "resume_trackers", [tracker])
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.RUNNING
    assert messages_of(resumed) == ["Resumed 1 tracker."]


def test_actions_need_the_change_permission(client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)
    client.force_login(staff(rep, "view_actioncadencetracker"))

    response = client.get(reverse(CHANGELIST))
    assert response.context["action_form"] is None
    choose(client, "pause_trackers", [tracker])
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.RUNNING


def test_delete_to_recycle_bin_and_restore(superuser_client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)

    deleted = choose(superuser_client, "delete_to_recycle_bin", [tracker])

    assert "Moved 1 tracker to the recycle bin" in messages_of(deleted)[0]
    assert not ActionCadenceTracker.objects.filter(pk=tracker.pk).exists()
    assert superuser_client.get(tracker_url(tracker)).status_code == 404
    bin_url = reverse("admin:trackers_recyclebintracker_changelist")
    listed = superuser_client.get(bin_url).context["cl"].result_list
    assert [row.pk for row in listed] == [tracker.pk]

    restored = choose(superuser_client, "restore", [RecycleBinTracker(pk=tracker.pk)], url=bin_url)

    assert messages_of(restored) == ["Restored 1 tracker from the recycle bin."]
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.RUNNING
    assert [e.change_type for e in events_of(tracker)][-2:] == [
        ChangeType.DELETE,
        ChangeType.UNDELETE,
    ]


def test_recycle_bin_lists_only_what_the_user_could_restore(client, rep, teammate, cadence):
    own = running_tracker(owner=rep, cadence=cadence)
    theirs = running_tracker(owner=teammate, cadence=cadence)
    lifecycle.delete_tracker(own, actor=rep)
    lifecycle.delete_tracker(theirs, actor=teammate)
    client.force_login(staff(rep, "view_recyclebintracker", "change_recyclebintracker"))

    response = client.get(reverse("admin:trackers_recyclebintracker_changelist"))

    assert [row.pk for row in response.context["cl"].result_list] == [own.pk]


# --------------------------------------------------------------------------- leads and contacts


def lead_admin_client(client, rep):
    rep.is_staff = True
    rep.save()
    rep.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_lead", "change_lead", "change_contact"])
    )
    client.force_login(User.objects.get(pk=rep.pk))
    return client


def test_add_to_cadence_assigns_each_lead(client, rep, teammate, cadence):
    leads = [LeadFactory(), LeadFactory()]
    client = lead_admin_client(client, rep)
    url = reverse("admin:trackers_lead_changelist")

    page = choose(client, "add_to_cadence", leads, url=url)
    assert page.status_code == 200
    assert f'<option value="{cadence.pk}">Outbound</option>' in page.content.decode()

    response = confirm(
        client, "add_to_cadence", leads, url=url, cadence=cadence.pk, owner=teammate.pk
    )

    assert messages_of(response) == ["Added 2 leads to cadence Outbound."]
    for lead in leads:
        tracker = ActionCadenceTracker.objects.get(target_lead=lead)
        assert tracker.state == TrackerState.RUNNING
        assert tracker.owner_user == teammate
        assert tracker.created_by == rep


def test_add_to_cadence_defaults_the_owner_to_the_acting_user(client, rep, cadence):
    contact = ContactFactory()
    client = lead_admin_client(client, rep)

    confirm(
        client,
        "add_to_cadence",
        [contact],
        url=reverse("admin:trackers_contact_changelist"),
        cadence=cadence.pk,
    )

    assert ActionCadenceTracker.objects.get(target_contact=contact).owner_user == rep


def test_add_to_cadence_reports_each_target_that_cannot_join(client, rep, cadence):
    busy = LeadFactory(last_name="Busy")
    running_tracker(owner=rep, cadence=make_cadence(name="Nurture"), target=busy)
    converted = LeadFactory(last_name="Converted", is_converted=True)
    free = LeadFactory(last_name="Free")
    client = lead_admin_client(client, rep)

    response = confirm(
        client,
        "add_to_cadence",
        [busy, converted, free],
        url=reverse("admin:trackers_lead_changelist"),
        cadence=cadence.pk,
    )

    text = messages_of(response)
    assert any("Busy" in m and "already active in cadence 'Nurture'" in m for m in text)
    assert any("Converted" in m and "converted" in m for m in text)
    assert "Added 1 lead to cadence Outbound." in text
    assert not ActionCadenceTracker.objects.filter(target_lead=converted).exists()
    assert ActionCadenceTracker.objects.filter(target_lead=busy).count() == 1


def test_add_to_cadence_offers_only_active_cadences(client, rep, cadence):
    draft = make_cadence(name="Draft one", state=CadenceState.DRAFT)
    lead = LeadFactory()
    client = lead_admin_client(client, rep)

    response = confirm(
        client,
        "add_to_cadence",
        [lead],
        url=reverse("admin:trackers_lead_changelist"),
        cadence=draft.pk,
    )

    assert response.status_code == 200
    assert response.context["form"].errors["cadence"]
    assert not ActionCadenceTracker.objects.filter(target_lead=lead).exists()


def test_convert_lead_completes_its_tracker(client, rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)
    client = lead_admin_client(client, rep)

    response = choose(
        client, "convert_lead", [tracker.target], url=reverse("admin:trackers_lead_changelist")
    )

    assert Lead.objects.get(pk=tracker.target_lead_id).is_converted
    tracker = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert tracker.completion_reason == CompletionReason.LEAD_CONVERTED
    assert messages_of(response)[0].startswith("Converted 1 lead")


def test_saving_a_lead_stamps_the_system_fields(superuser_client, admin_user):
    lead = LeadFactory()
    url = reverse("admin:trackers_lead_change", args=[lead.pk])

    response = superuser_client.post(
        url,
        {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines", "status": "Open"},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.last_name == "Lovelace"
    assert lead.last_modified_by == admin_user
    assert lead.system_modstamp == lead.last_modified_date


def test_opportunity_admin_adds_with_created_by(superuser_client, admin_user):
    response = superuser_client.post(
        reverse("admin:trackers_opportunity_add"),
        {"name": "Big deal", "stage_name": "Prospecting", "close_date": "2030-01-01"},
    )

    assert response.status_code == 302
    deal = Opportunity.objects.get(name="Big deal")
    assert deal.created_by == admin_user and len(deal.sf_id) == 18


# --------------------------------------------------------------------------- sharing admin


def test_org_wide_default_is_a_singleton(superuser_client):
    response = superuser_client.get(reverse("admin:sharing_organization_changelist"))

    org = Organization.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:sharing_organization_change", args=[org.pk])
    assert superuser_client.get(reverse("admin:sharing_organization_add")).status_code == 403
    delete = reverse("admin:sharing_organization_delete", args=[org.pk])
    assert superuser_client.get(delete).status_code == 403


def test_user_admin_shows_the_salesforce_id_and_role(superuser_client, rep):
    response = superuser_client.get(reverse("admin:sharing_user_change", args=[rep.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert rep.sf_id in html and 'name="role"' in html


# --------------------------------------------------------------------------- speed and safety


def count_changelist_queries(client):
    client.get(reverse(CHANGELIST))  # warm the per-process sharing graph cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return len(queries), response


def test_changelist_query_count_is_pinned_and_does_not_grow(rep_client, rep, cadence):
    """Session, user, user and group permissions, the org-wide default, the cadence
    filter's names, the bounded count, and the page in one query with its targets,
    cadences and owners: 8 queries, the same for 2 rows and 30."""
    for _ in range(2):
        running_tracker(owner=rep, cadence=cadence)
    few, _ = count_changelist_queries(rep_client)

    for _ in range(28):
        running_tracker(owner=rep, cadence=cadence)
    many, response = count_changelist_queries(rep_client)

    assert len(response.context["cl"].result_list) == 30
    assert many == few
    assert few <= 8


def test_superuser_changelist_query_budget(
    superuser_client, rep, cadence, django_assert_max_num_queries
):
    for _ in range(5):
        running_tracker(owner=rep, cadence=cadence)

    with django_assert_max_num_queries(6):
        superuser_client.get(reverse(CHANGELIST))


def test_changelist_never_counts_the_whole_table(superuser_client, rep, cadence):
    running_tracker(owner=rep, cadence=cadence)

    with CaptureQueriesContext(connection) as queries:
        superuser_client.get(reverse(CHANGELIST))

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)


def test_bounded_paginator_is_exact_for_short_lists_and_a_bound_for_long_ones(monkeypatch):
    for _ in range(5):
        LeadFactory()
    leads = Lead.objects.order_by("pk")

    exact = BoundedCountPaginator(leads, 2)
    assert (exact.count, exact.has_more, exact.num_pages) == (5, False, 3)

    monkeypatch.setattr(BoundedCountPaginator, "LOOKAHEAD_PAGES", 0)
    bounded = BoundedCountPaginator(leads, 1, current_page=2)
    assert (bounded.count, bounded.has_more) == (3, True)
    # every page it links to has rows
    assert all(bounded.page(n).object_list for n in bounded.page_range)


def test_action_post_without_csrf_token_is_refused(rep, cadence):
    tracker = running_tracker(owner=rep, cadence=cadence)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(rep, "view_actioncadencetracker", "change_actioncadencetracker"))

    response = confirm(client, "remove_from_cadence", [tracker], disposition="Duplicate")

    assert response.status_code == 403
    assert ActionCadenceTracker.objects.get(pk=tracker.pk).state == TrackerState.RUNNING
