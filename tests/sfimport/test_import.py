"""import_salesforce: Salesforce's file quirks, exact ids, references in any order,
idempotent re-imports, invariants, errors that name file, line and field."""

from __future__ import annotations

import datetime as dt
import gc
import io
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

from cadence_site import registry
from cadence_site.sfimport import importer
from cadence_site.sfimport.readers import open_path
from sharing.models import ActionCadenceTrackerShare, Group, GroupMember, User, UserRole
from tests.sfimport.conftest import (
    FIXTURES,
    ORG,
    Run,
    not_utf8_further_down,
    org_files,
    run_command,
)
from trackers.models import (
    ActionCadence,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    Contact,
    Lead,
    Opportunity,
)

UTC = dt.UTC
TRACKER_IDS = [
    "7CTImpTrkRun001OSA",
    "7CTImpTrkRem002OSA",
    "7CTImpTrkExt003OSA",
    "7CTImpTrkPau004OSA",
    "7CTImpTrkQue005OSA",
]


def tracker(sf_id: str) -> ActionCadenceTracker:
    return ActionCadenceTracker.all_objects.get(sf_id=sf_id)


def test_every_object_imports_from_files_in_reverse_dependency_order(imported_org):
    """GIVEN the org's fifteen files, children first WHEN imported THEN every record is
    there with its Salesforce Id, and the summary counts each object."""
    assert imported_org.stderr == ""
    out = imported_org.stdout
    assert "ActionCadenceTracker: 5 created, 0 updated, 0 unchanged, 0 skipped" in out
    assert "UserRole: 2 created" in out
    assert "ActionCadenceTrackerShare: 1 created, 0 updated, 0 unchanged, 1 skipped" in out
    assert "Imported." in out
    assert sorted(ActionCadenceTracker.objects.values_list("sf_id", flat=True)) == sorted(
        TRACKER_IDS
    )
    # A role whose parent comes later in the same file, and a user's role by 15-char id.
    rep_role = UserRole.objects.get(sf_id="00EImpRoleRep01MCB")
    assert rep_role.parent_role.sf_id == "00EImpRoleTop01MCB"
    assert User.objects.get(sf_id="005ImpUserMgr01ICB").role.developer_name == "VP_Sales"
    member = GroupMember.objects.get(sf_id="011ImpMemberA01ICE")
    assert member.member_user.username == "rep@import.example"
    assert Group.objects.get(sf_id="00GImpQueueEa01MCC").type == "Queue"


def test_csv_quirks_bom_crlf_quotes_newlines_and_empty_cells(imported_org):
    """Lead.csv has a BOM, CRLF line ends, a quoted comma, doubled quotes, a line
    break inside a field, empty cells and an extra column; Contact.csv has LF ends."""
    ada = Lead.objects.get(sf_id="00QImpLeadAda01MCB")
    assert ada.company == "Lovelace, Babbage & Co"
    assert Lead.objects.get(sf_id="00QImpLeadBob01MCB").company == 'The "Best" Ltd'
    assert Lead.objects.get(sf_id="00QImpLeadBob01MCB").email == ""
    cyd = Lead.objects.get(sf_id="00QImpLeadCyd01MCB")
    assert cyd.company == "Line one\r\nLine two"
    assert cyd.first_name == ""
    assert cyd.is_converted is False
    assert Contact.objects.get(sf_id="003ImpContDee01ICB").title == "VP, Operations"
    cadence = ActionCadence.objects.get(sf_id="77CImpCadence01MCA")
    assert cadence.description == 'Two lines:\r\ncall, then "email"'
    deal = Opportunity.objects.get(sf_id="006ImpOpptyBg01ICC")
    assert deal.amount == Decimal("12500.50")
    assert deal.close_date == dt.date(2024, 6, 30)
    assert "Lead.csv: columns not in Lead were ignored: Rating__c" in imported_org.stdout


def test_every_datetime_format_and_15_character_ids(imported_org):
    running = tracker("7CTImpTrkRun001OSA")
    assert running.created_date == dt.datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)  # ...000Z
    assert running.last_modified_date == dt.datetime(2024, 3, 2, 8, 0, tzinfo=UTC)  # +0000
    assert running.system_modstamp == dt.datetime(2024, 3, 2, tzinfo=UTC)  # a bare date
    # LastModifiedById and TargetId were given as 15-character ids.
    assert running.last_modified_by.sf_id == "005ImpUserRep01ICB"
    assert running.target_lead.sf_id == "00QImpLeadAda01MCB"
    removed = tracker("7CTImpTrkRem002OSA")
    assert removed.created_date == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)  # Z, no millis
    assert removed.last_modified_date == dt.datetime(2024, 3, 5, 16, 30, tzinfo=UTC)  # +00:00
    paused = tracker("7CTImpTrkPau004OSA")
    assert paused.scheduled_resume_date_time == dt.datetime(2024, 4, 1, 9, tzinfo=UTC)
    assert ActionCadence.objects.get().activated_date == dt.datetime(2024, 2, 1, 10, tzinfo=UTC)


def test_references_resolve_across_files(imported_org):
    running = tracker("7CTImpTrkRun001OSA")
    # CurrentStepId names a step tracker from a file imported after the trackers.
    assert running.current_step.sf_id == "7CUImpStepTrk01OCB"
    assert running.current_step.action_cadence_tracker_id == running.pk
    assert running.owner_user.sf_id == "005ImpUserRep01ICB"
    assert running.related_opportunity.sf_id == "006ImpOpptyBg01ICC"
    assert running.related_to_attribution_type == "Activation"
    assert tracker("7CTImpTrkRem002OSA").related_invoice.sf_id == "3ttImpInvoice01ICA"
    exited = tracker("7CTImpTrkExt003OSA")
    assert exited.exit_global_rule.sf_id == "7CRImpRuleRply1OCB"
    assert exited.target_contact.sf_id == "003ImpContDee01ICB"
    assert tracker("7CTImpTrkQue005OSA").owner_queue.sf_id == "00GImpQueueEa01MCC"
    assert tracker("7CTImpTrkPau004OSA").current_step.state == "Paused"
    step = ActionCadenceStepTracker.objects.get(sf_id="7CUImpStepTrk01OCB")
    assert step.step_title == 'Intro call, then "email"'
    assert step.action_cadence_step == ActionCadenceStep.objects.get(step_name="call_1")


def test_unrestricted_picklist_values_are_kept(imported_org):
    assert tracker("7CTImpTrkRem002OSA").completion_disposition == "Left the company"
    assert tracker("7CTImpTrkExt003OSA").completion_disposition == "Customer Engaged"


def test_imported_trackers_get_create_events_and_sharing_rows(imported_org):
    events = ActionCadenceTrackerChangeEvent.objects.filter(record_id__in=TRACKER_IDS)
    assert sorted(events.values_list("record_id", flat=True)) == sorted(TRACKER_IDS)
    assert set(events.values_list("change_type", flat=True)) == {"CREATE"}
    event = events.get(record_id="7CTImpTrkRun001OSA")
    assert event.values["CurrentStepId"] == "7CUImpStepTrk01OCB"
    assert event.values["TargetId"] == "00QImpLeadAda01MCB"
    assert event.values["CreatedDate"] == "2024-03-01T12:34:56.000+0000"
    assert event.values["IsTrackerActive"] is True
    assert event.header()["changeOrigin"] == "import_salesforce"
    # The rule shares trackers owned by East reps (the rep) with the queue.
    rule_rows = ActionCadenceTrackerShare.objects.filter(row_cause="Rule")
    assert sorted(rule_rows.values_list("parent__sf_id", flat=True)) == sorted(TRACKER_IDS[:4])
    assert set(rule_rows.values_list("group__sf_id", flat=True)) == {"00GImpQueueEa01MCC"}
    manual = ActionCadenceTrackerShare.objects.get(row_cause="Manual")
    assert (manual.sf_id, manual.parent.sf_id, manual.access_level) == (
        "02sImpShareMan1ICC",
        "7CTImpTrkQue005OSA",
        "Edit",
    )
    # The file's Rule row is derived, so it was not imported under its own Id.
    assert not ActionCadenceTrackerShare.objects.filter(sf_id="02sImpShareRul2ICC").exists()
    assert "Owner and Rule share rows are derived" in imported_org.stdout


def test_a_create_event_holds_every_field_as_the_api_shows_the_tracker(imported_org):
    """Each imported tracker's CREATE event carries the tracker as the API shows it after
    the import (the same dict a tracker created in the app gets), field for field:
    dates, booleans, picklists, references set in the second pass."""
    sobject = registry.for_model(ActionCadenceTracker)
    for sf_id in TRACKER_IDS:
        event = ActionCadenceTrackerChangeEvent.objects.get(record_id=sf_id, change_type="CREATE")
        expected = sobject.to_dict(tracker(sf_id))
        assert event.values == expected, sf_id


def test_create_events_hold_awkward_values_as_the_api_shows_them(imported_org, tmp_path):
    """Text with quotes, commas, a line break and accents, dates with and without
    fractions of a second (and more digits than milliseconds), a queue owner, a contact
    target, an invoice, a custom disposition, a deleted tracker: each new tracker's
    CREATE event equals the API's dict of it (on SQLite the database writes these
    events itself, so this compares its JSON with the API's)."""
    rows = tmp_path / "ActionCadenceTracker.csv"
    rows.write_text(
        "Id,CreatedDate,CreatedById,SystemModstamp,IsDeleted,ActionCadenceId,"
        "CompletionDisposition,CompletionReason,DaisyChainIteration,ErrorMessage,OwnerId,"
        "RelatedToAttributionType,RelatedToId,ScheduledResumeDateTime,State,TargetId\r\n"
        "7CTImpOddRow001,2024-03-01T12:00:00Z,005ImpUserMgr01,2024-03-01T12:00:00.9999Z,false,"
        '77CImpCadence01MCA,,,3,"It said ""no"", then\nstopped: café ☕",00GImpQueueEa01MCC,'
        ",,,Error,003ImpContDee01\r\n"
        "7CTImpOddRow002,2024-03-01 08:15:30.123456,,2024-03-01T08:15:30+01:00,true,"
        '77CImpCadence01MCA,"Left a ""voicemail""",ManuallyRemoved,,,005ImpUserRep01,'
        "Collected,3ttImpInvoice01ICA,,Complete,00QImpLeadBob01\r\n"
        "7CTImpOddRow003,2024-03-01,,2024-03-01,false,77CImpCadence01MCA,,,,,005ImpUserRep01,"
        ",,2024-04-01T09:30:00.500Z,Paused,00QImpLeadBob01\r\n",
        encoding="utf-8",
    )
    result = run_command(str(rows))
    assert not result.stderr
    assert "ActionCadenceTracker: 3 created, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    sobject = registry.for_model(ActionCadenceTracker)
    for number in (1, 2, 3):
        made = ActionCadenceTracker.all_objects.get(sf_id__startswith=f"7CTImpOddRow00{number}")
        event = ActionCadenceTrackerChangeEvent.objects.get(tracker=made, change_type="CREATE")
        expected = sobject.to_dict(made)
        assert event.values == expected, number
    odd = ActionCadenceTracker.objects.get(sf_id__startswith="7CTImpOddRow001")
    assert odd.error_message == 'It said "no", then\nstopped: café ☕'


def test_a_current_step_whose_row_is_skipped_is_left_empty_in_tracker_and_event(db, tmp_path):
    """GIVEN trackers naming their current step trackers, which come later in the same
    import, one of them a bad row WHEN imported THEN that reference is reported and not
    set, and the tracker's CREATE event leaves it empty too, while the other tracker's
    event names its step tracker."""
    for name in ("ActionCadenceTracker", "ActionCadenceStepTracker"):
        shutil.copy(ORG / f"{name}.csv", tmp_path / f"{name}.csv")
    steps = tmp_path / "ActionCadenceStepTracker.csv"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(text.replace(",Paused,", ",Sleeping,"), encoding="utf-8")
    others = [path for path in org_files() if not path.endswith("Tracker.csv")]
    result = run_command(*others, str(tmp_path / "ActionCadenceTracker.csv"), str(steps))
    errors = [line for line in result.stderr.splitlines() if "Tracker.csv" in line]
    assert any(line.startswith("ActionCadenceStepTracker.csv:3:State:") for line in errors)
    assert any(
        "CurrentStepId: no ActionCadenceStepTracker with Id 7CUImpStepTrk04OCB" in line
        and "the reference was not set" in line
        for line in errors
    ), errors
    paused, running = tracker("7CTImpTrkPau004OSA"), tracker("7CTImpTrkRun001OSA")
    assert paused.current_step_id is None
    sobject = registry.for_model(ActionCadenceTracker)
    for made in (paused, running):
        event = ActionCadenceTrackerChangeEvent.objects.get(tracker=made, change_type="CREATE")
        assert event.values == sobject.to_dict(made), made.sf_id
    event = ActionCadenceTrackerChangeEvent.objects.get(tracker=running, change_type="CREATE")
    assert event.values["CurrentStepId"] == "7CUImpStepTrk01OCB"


def test_reimport_changes_nothing_and_creates_nothing_twice(imported_org):
    counts = {
        model: model._base_manager.count()
        for model in (ActionCadenceTracker, Lead, User, ActionCadenceTrackerChangeEvent)
    }
    again = run_command(*org_files(reverse=False))
    assert "ActionCadenceTracker: 0 created, 0 updated, 5 unchanged, 0 skipped" in again.stdout
    assert "Lead: 0 created, 0 updated, 3 unchanged, 0 skipped" in again.stdout
    assert again.stderr == ""
    assert {model: model._base_manager.count() for model in counts} == counts


def test_reimport_updates_by_id_and_records_an_update_event(imported_org, tmp_path):
    text = (ORG / "ActionCadenceTracker.csv").read_text(encoding="utf-8")
    changed = tmp_path / "ActionCadenceTracker.csv"
    changed.write_text(
        text.replace("2024-04-01T09:00:00Z", "2024-04-02T09:00:00.000Z"),
        encoding="utf-8",
        newline="",
    )
    result = run_command(str(changed))
    assert "ActionCadenceTracker: 0 created, 1 updated, 4 unchanged, 0 skipped" in result.stdout
    paused = tracker("7CTImpTrkPau004OSA")
    assert paused.scheduled_resume_date_time == dt.datetime(2024, 4, 2, 9, tzinfo=UTC)
    update = ActionCadenceTrackerChangeEvent.objects.get(change_type="UPDATE")
    assert update.record_id == "7CTImpTrkPau004OSA"
    assert update.changed_fields == ["ScheduledResumeDateTime"]
    assert update.values == {"ScheduledResumeDateTime": "2024-04-02T09:00:00.000+0000"}


def test_a_file_with_some_columns_updates_only_those(imported_org, tmp_path):
    partial = tmp_path / "Lead.csv"
    partial.write_text("Id,Status\r\n00QImpLeadAda01,Working - Contacted\r\n", encoding="utf-8")
    result = run_command(str(partial))
    assert "Lead: 0 created, 1 updated" in result.stdout
    ada = Lead.objects.get(sf_id="00QImpLeadAda01MCB")
    assert (ada.status, ada.company) == ("Working - Contacted", "Lovelace, Babbage & Co")


BAD = str(FIXTURES / "bad" / "ActionCadenceTracker.csv")


def test_bad_rows_are_reported_with_file_line_and_field_and_skipped(imported_org):
    result = run_command(BAD)
    errors = result.stderr.splitlines()
    assert errors[0].startswith("ActionCadenceTracker.csv:2:State: 'Runing' is not a value of")
    assert errors[1].startswith(
        "ActionCadenceTracker.csv:3:CompletionReason: is NoMoreSteps but State is Running"
    )
    assert errors[2].startswith(
        "ActionCadenceTracker.csv:4:IsTrackerActive: is true but State is Complete"
    )
    assert errors[3].startswith(
        "ActionCadenceTracker.csv:5:ScheduledResumeDateTime: 'next tuesday' is not a date"
    )
    assert errors[4] == (
        "ActionCadenceTracker.csv:6:OwnerId: no User with Id 005ImpNoSuchUsrIKE in the "
        "database or in this import."
    )
    assert len(errors) == 5
    assert "ActionCadenceTracker: 1 created, 0 updated, 0 unchanged, 5 skipped" in result.stdout
    good = tracker("7CTImpGood00006OCA")
    assert good.completion_disposition == 'Moved on, "for now"'
    assert not ActionCadenceTracker.all_objects.filter(sf_id__startswith="7CTImpBad").exists()


def test_atomic_rolls_the_whole_import_back(imported_org):
    before = ActionCadenceTracker.all_objects.count()
    events = ActionCadenceTrackerChangeEvent.objects.count()
    with pytest.raises(CommandError, match="--atomic: nothing was imported"):
        run_command(BAD, "--atomic")
    assert ActionCadenceTracker.all_objects.count() == before
    assert ActionCadenceTrackerChangeEvent.objects.count() == events


def test_atomic_with_a_bad_parent_keeps_nothing_of_the_org(db):
    """Every object of the run goes back, not just the file with the error."""
    with pytest.raises(CommandError):
        run_command(*org_files(), BAD, "--atomic")
    assert not Lead.objects.exists()
    assert not User.objects.exists()


def test_a_target_with_two_active_trackers_is_refused(imported_org, tmp_path):
    twin = tmp_path / "ActionCadenceTracker.csv"
    twin.write_text(
        "Id,State,OwnerId,TargetId\r\n7CTImpTwin00001,Running,005ImpUserRep01,00QImpLeadAda01\r\n",
        encoding="utf-8",
    )
    result = run_command(str(twin))
    assert result.stderr.startswith(
        "ActionCadenceTracker.csv:2:TargetId: this target already has an active tracker"
    )
    assert "(7CTImpTrkRun001OSA)" in result.stderr


def test_processing_is_refused_as_transient(imported_org, tmp_path):
    busy = tmp_path / "ActionCadenceTracker.csv"
    busy.write_text(
        "Id,State,OwnerId\r\n7CTImpBusy00001,Processing,005ImpUserRep01\r\n", encoding="utf-8"
    )
    assert "2:State: Processing is transient" in run_command(str(busy)).stderr


def test_required_fields_and_wrong_object_ids(imported_org, tmp_path):
    leads = tmp_path / "Lead.csv"
    leads.write_text(
        "Id,LastName,Company\r\n7CTImpTrkRun001,Smith,Acme\r\n,,Acme\r\n", encoding="utf-8"
    )
    errors = run_command(str(leads)).stderr.splitlines()
    assert errors == [
        "Lead.csv:2:Id: 7CTImpTrkRun001OSA is not an id of Lead (key prefix 00Q).",
        "Lead.csv:3:LastName: LastName is required; the cell is empty.",
    ]


def test_json_query_pages(db):
    """Two pages of a REST query (done false, nextRecordsUrl, then done true): the
    object from attributes.type, nested relationship objects ignored, nulls kept."""
    result = run_command(
        str(FIXTURES / "json" / "query-page2.json"), str(FIXTURES / "json" / "query-page1.json")
    )
    assert "Lead: 3 created, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    assert result.stderr == ""
    jay = Lead.objects.get(sf_id="00QImpLeadJs001MCB")
    assert (jay.company, jay.email) == ("JSON, Inc", "")
    assert jay.created_date == dt.datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)
    assert Lead.objects.get(sf_id="00QImpLeadJs002MCB").company == 'Paged "Ltd"'
    last = Lead.objects.get(sf_id="00QImpLeadJs003MCB")
    assert (last.first_name, last.company, last.status) == (
        "",
        "Multi\nline",
        "Working - Contacted",
    )


def test_json_errors_name_the_record(db, tmp_path):
    page = tmp_path / "page.json"
    page.write_text(
        '{"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Lead"}, '
        '"Id": "00QImpLeadJs009", "LastName": "X", "Company": "Y", "IsConverted": "maybe"}]}',
        encoding="utf-8",
    )
    assert run_command(str(page)).stderr.startswith(
        "page.json:record 1:IsConverted: 'maybe' is not a boolean"
    )


def test_a_json_field_holding_a_list_is_a_row_error(db, tmp_path):
    """A field is one value: a list is the row's error, not a crash (an id column
    holding one failed with TypeError)."""
    page = tmp_path / "page.json"
    page.write_text(
        '{"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Lead"}, '
        '"Id": "00QImpLeadJs009", "LastName": "X", "Company": "Y", '
        '"CreatedById": ["005000000000001", "005000000000002"]}]}',
        encoding="utf-8",
    )
    assert run_command(str(page)).stderr.startswith(
        "page.json:record 1:CreatedById: expected a single value, got list"
    )
    assert not Lead.objects.exists()


def test_the_object_comes_from_the_file_name_or_the_option(db, tmp_path):
    anonymous = tmp_path / "export.csv"
    shutil.copy(ORG / "Lead.csv", anonymous)
    with pytest.raises(CommandError, match="cannot tell which object"):
        run_command(str(anonymous))
    assert "Lead: 3 created" in run_command(str(anonymous), "--object", "Lead").stdout
    with pytest.raises(CommandError, match="no such file"):
        run_command(str(tmp_path / "Missing.csv"))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(db):
    piped = run_command(str(ORG / "Lead.csv"))
    assert "[" not in piped.stdout and "\r" not in piped.stdout
    terminal = FakeTerminal()
    call_command("import_salesforce", str(ORG / "Contact.csv"), stdout=terminal)
    assert "\rContact.csv [" in terminal.getvalue()
    assert "1/1" in terminal.getvalue()


def test_bytes_that_are_not_utf8_further_down_refuse_the_whole_file(db, tmp_path):
    """A valid header and first rows, then a Latin-1 "José" on a later line (an Excel
    export): the file is refused whole, naming where, and nothing is imported."""
    good = (ORG / "Lead.csv").read_bytes()
    bad = tmp_path / "Lead.csv"
    bad.write_bytes(not_utf8_further_down(good))
    with pytest.raises(CommandError, match=r"Lead\.csv: not UTF-8 text after line \d+"):
        run_command(str(bad))
    assert not Lead.objects.exists()


@pytest.mark.postgres
def test_a_lead_saved_during_an_import_waits_for_it_instead_of_taking_its_key(
    transactional_db, monkeypatch
):
    """The importer gives new rows explicit keys from MAX(id) + 1. A lead saved by a
    web request while the import's rows are written but not committed would take the
    same key from the sequence; it waits for the import's commit instead, then gets
    a key of its own."""
    import threading

    from cadence_site.sfimport import importer
    from tests.factories import LeadFactory

    written, go = threading.Event(), threading.Event()
    real_reset = importer.reset_sequences

    def pause_then_reset(*models):
        if models[0] is Lead:
            written.set()
            assert go.wait(30)
        real_reset(*models)

    monkeypatch.setattr(importer, "reset_sequences", pause_then_reset)
    outcome: dict = {}

    def import_leads():
        try:
            outcome["import"] = run_command(str(ORG / "Lead.csv"))
        finally:
            connection.close()

    def save_a_lead():
        try:
            outcome["lead"] = LeadFactory().pk
        except Exception as error:  # the test reports what went wrong
            outcome["lead"] = error
        finally:
            connection.close()

    importing = threading.Thread(target=import_leads)
    importing.start()
    assert written.wait(30)
    saving = threading.Thread(target=save_a_lead)
    saving.start()
    saving.join(1.0)
    assert saving.is_alive(), "the lead was saved while the import held its keys"
    go.set()
    importing.join(30)
    saving.join(30)

    assert isinstance(outcome["lead"], int), outcome["lead"]
    assert "Lead: 3 created" in outcome["import"].stdout
    assert Lead.objects.count() == 4


def _refuse(
    event: str,
    sf_id: str,
    table: str = "trackers_actioncadencetracker",
    column: str = "sf_id",
) -> None:
    """The database refuses every INSERT or UPDATE (``event``) of this tracker (a
    trigger), as it would a row that breaks a rule the importer does not check itself;
    with ``table`` and ``column``, of another table's rows about it (its change events)."""
    row = "NEW" if event == "INSERT" else "OLD"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_tracker() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_tracker BEFORE {event} ON "
                f"{table} FOR EACH ROW WHEN ({row}.{column} = %s) "
                "EXECUTE FUNCTION refuse_tracker()",
                [sf_id],
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER refuse_tracker BEFORE {event} ON "
                f"{table} WHEN {row}.{column} = '{sf_id}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )


def _complete_trackers(tmp_path, ids: Iterable[str]) -> Path:
    """A tracker file: Complete trackers with these Ids, owned by the rep, on lead Bob."""
    rows = tmp_path / "ActionCadenceTracker.csv"
    rows.write_text(
        "Id,State,CompletionReason,OwnerId,TargetId\r\n"
        + "".join(
            f"{sf_id},Complete,NoMoreSteps,005ImpUserRep01,00QImpLeadBob01\r\n" for sf_id in ids
        ),
        encoding="utf-8",
    )
    return rows


def test_a_new_row_the_database_refuses_is_reported_and_the_rest_written(imported_org, tmp_path):
    """Rows go in many to a statement; when the database refuses one, the batch is
    written again row by row, so only that row is skipped, with its line."""
    _refuse("INSERT", "7CTImpNewRun002OSA")
    rows = _complete_trackers(tmp_path, (f"7CTImpNewRun00{index}" for index in range(1, 8)))
    result = run_command(str(rows))
    errors = [line for line in result.stderr.splitlines() if line.startswith("ActionCadence")]
    assert errors == [
        "ActionCadenceTracker.csv:3: the database refused the row: refused by the test"
    ]
    assert "ActionCadenceTracker: 6 created, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert ActionCadenceTracker.objects.filter(sf_id__startswith="7CTImpNewRun").count() == 6
    assert (
        ActionCadenceTrackerChangeEvent.objects.filter(record_id__startswith="7CTImpNewRun").count()
        == 6
    )


def test_a_refused_new_active_tracker_leaves_its_place_under_the_limit(
    imported_org, tmp_path, settings
):
    """GIVEN an org one active tracker below its limit WHEN the database refuses a new
    Running tracker THEN the next new Running tracker, in the following batch, takes
    that place: the batch written beside the reading (SQLite's writer thread) is
    settled before the next one is checked against the limit."""
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 4
    assert ActionCadenceTracker.objects.filter(is_tracker_active=True).count() == 3
    result = _two_running_the_first_refused(tmp_path, "003ImpContDee01")
    assert "ActionCadenceTracker: 1 created, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert tracker("7CTImpNewRun002OSA").state == "Running"
    assert ActionCadenceTracker.objects.filter(is_tracker_active=True).count() == 4


def test_a_refused_new_active_tracker_leaves_its_target_free(imported_org, tmp_path):
    """GIVEN two new Running trackers on one lead WHEN the database refuses the first
    THEN the second is imported: the refused tracker never held the lead's one active
    place (it was reported as holding it, naming a tracker that was never written)."""
    _two_running_the_first_refused(tmp_path, "00QImpLeadBob01")
    assert tracker("7CTImpNewRun002OSA").state == "Running"


def _two_running_the_first_refused(tmp_path, second_target: str) -> Run:
    """Import two new Running trackers, one a batch, the first on lead Bob and refused
    by the database; check that its refusal is the only error."""
    _refuse("INSERT", "7CTImpNewRun001OSA")
    rows = tmp_path / "ActionCadenceTracker.csv"
    rows.write_text(
        "Id,State,OwnerId,TargetId\r\n"
        "7CTImpNewRun001,Running,005ImpUserRep01,00QImpLeadBob01\r\n"
        f"7CTImpNewRun002,Running,005ImpUserRep01,{second_target}\r\n",
        encoding="utf-8",
    )
    result = run_command(str(rows), "--batch-size", "1")
    errors = [line for line in result.stderr.splitlines() if line.startswith("ActionCadence")]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ActionCadenceTracker.csv:2: the database refused the row")
    return result


@pytest.mark.django_db(transaction=True)
def test_a_big_load_outside_any_transaction_rebuilds_indexes_and_keeps_keys(tmp_path, monkeypatch):
    """The path a real big import takes (no outer transaction): the tracker tables'
    indexes are dropped and built again, the change events' foreign keys checked (on
    PostgreSQL dropped and added again), the writer thread on SQLite; afterwards every
    index and key is back, and every new tracker has its CREATE event."""
    run_command(*org_files())
    monkeypatch.setattr(importer, "REBUILD_FROM", 10)
    loads = []
    bulk_load = importer.bulk_load

    def counted(*models, **options):
        loads.append([model.__name__ for model in models])
        return bulk_load(*models, **options)

    monkeypatch.setattr(importer, "bulk_load", counted)
    indexes_before = _indexes()
    rows = _complete_trackers(tmp_path, (f"7CTImpBulk{index:05d}" for index in range(40)))
    result = run_command(str(rows), "--batch-size", "15")
    assert "ActionCadenceTracker: 40 created" in result.stdout, result.stderr
    assert loads == [["ActionCadenceTracker", "ActionCadenceStepTracker"]]
    assert _indexes() == indexes_before
    made = ActionCadenceTracker.all_objects.filter(sf_id__startswith="7CTImpBulk")
    assert made.count() == 40
    events = ActionCadenceTrackerChangeEvent.objects.filter(tracker__in=made)
    assert sorted(events.values_list("sequence_number", flat=True)) == sorted(
        [number for number in range(1, 16)] * 2 + list(range(1, 11))
    )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []


def _indexes() -> set[tuple[str, str]]:
    """(table, index or constraint) of the tracker and change event tables."""
    tables = ["trackers_actioncadencetracker", "trackers_actioncadencetrackerchangeevent"]
    with connection.cursor() as cursor:
        return {
            (table, name)
            for table in tables
            for name in connection.introspection.get_constraints(cursor, table)
        }


def test_a_change_event_the_database_refuses_fails_the_whole_import(imported_org, tmp_path):
    """A tracker is never written without its change event: when the database refuses
    the event (written by the writer thread on SQLite), the import stops with the
    database's error and keeps none of its rows."""
    before = ActionCadenceTrackerChangeEvent.objects.count()
    _refuse("INSERT", "7CTImpNewRun003OSA", "trackers_actioncadencetrackerchangeevent", "record_id")
    rows = _complete_trackers(tmp_path, (f"7CTImpNewRun00{index}" for index in range(1, 6)))
    with pytest.raises(DatabaseError, match="refused by the test"):
        run_command(str(rows), "--batch-size", "2")
    assert not ActionCadenceTracker.all_objects.filter(sf_id__startswith="7CTImpNewRun").exists()
    assert ActionCadenceTrackerChangeEvent.objects.count() == before


def test_an_import_stopped_midway_keeps_nothing_and_leaves_the_connection_usable(
    imported_org, tmp_path
):
    """GIVEN a batch on its way into the database (SQLite's writer thread) WHEN the
    import stops (an error, Ctrl-C in the progress bar) THEN the writer finishes before
    the rollback: nothing of the file is kept, the connection answers the next query,
    and the interpreter's garbage collector and switch interval are as they were."""
    gc_before, interval_before = gc.isenabled(), sys.getswitchinterval()
    rows = _complete_trackers(tmp_path, (f"7CTImpStop{index:05d}" for index in range(3000)))

    def stop(source, done):
        if done == 2000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        importer.run_import([open_path(str(rows))], progress=stop, batch_size=700)
    assert not ActionCadenceTracker.all_objects.filter(sf_id__startswith="7CTImpStop").exists()
    assert ActionCadenceTracker.all_objects.count() == len(TRACKER_IDS)
    assert (gc.isenabled(), sys.getswitchinterval()) == (gc_before, interval_before)


@pytest.mark.sqlite
def test_a_second_ctrl_c_while_the_writer_finishes_still_keeps_nothing(
    imported_org, tmp_path, monkeypatch
):
    """GIVEN a slow batch on its way in WHEN the import is stopped and stopped again
    while it waits for the writer THEN it still waits for the batch before rolling back
    (else the batch's statements would land after the rollback), and then stops."""
    rows = _complete_trackers(tmp_path, (f"7CTImpStop{index:05d}" for index in range(1500)))
    write = importer._SqliteInsert.raw

    def slow(self, driver, batch):
        time.sleep(0.3)
        write(self, driver, batch)

    monkeypatch.setattr(importer._SqliteInsert, "raw", slow)
    shutdown = importer.ThreadPoolExecutor.shutdown
    calls = []

    def interrupted_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the second Ctrl-C, before the writer is done
        return shutdown(self, *args, **kwargs)

    monkeypatch.setattr(importer.ThreadPoolExecutor, "shutdown", interrupted_once)

    def stop(source, done):
        if done == 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        importer.run_import([open_path(str(rows))], progress=stop, batch_size=700)
    assert len(calls) == 2
    for thread in threading.enumerate():  # a writer left running would write now
        if thread.name.startswith("import-writer"):
            thread.join(10)
    assert not ActionCadenceTracker.all_objects.filter(sf_id__startswith="7CTImpStop").exists()


@pytest.mark.parametrize(
    "update",
    [
        "7CTImpTrkRun001,Running,,2",  # stays active
        "7CTImpTrkRun001,Complete,NoMoreSteps,1",  # finishes
    ],
    ids=["stays-active", "completes"],
)
def test_a_refused_update_of_an_active_tracker_keeps_the_org_limit_exact(
    imported_org, tmp_path, settings, update
):
    """GIVEN an org at its limit of 3 active trackers WHEN the database refuses an
    update of one of them THEN a new Running tracker later in the file is still refused
    for the limit (the importer's count of active trackers did not drift)."""
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 3
    assert ActionCadenceTracker.objects.filter(is_tracker_active=True).count() == 3
    _refuse("UPDATE", "7CTImpTrkRun001OSA")
    rows = tmp_path / "ActionCadenceTracker.csv"
    rows.write_text(
        "Id,State,CompletionReason,DaisyChainIteration,OwnerId,TargetId\r\n"
        f"{update},005ImpUserRep01,00QImpLeadAda01\r\n"
        "7CTImpNewRun001,Running,,1,005ImpUserRep01,00QImpLeadBob01\r\n",
        encoding="utf-8",
    )
    stderr = run_command(str(rows), "--batch-size", "1").stderr
    # (PostgreSQL's message goes on with a CONTEXT line.)
    errors = [line for line in stderr.splitlines() if line.startswith("ActionCadenceTracker")]
    assert len(errors) == 2, errors
    assert errors[0].startswith("ActionCadenceTracker.csv:2: the database refused the row")
    assert errors[1].startswith("ActionCadenceTracker.csv:3:State: the org already has 3 active")
    assert ActionCadenceTracker.objects.filter(is_tracker_active=True).count() == 3


def test_dry_run_checks_everything_and_keeps_nothing(db):
    """GIVEN the whole org and a file with bad trackers WHEN imported with --dry-run THEN
    every bad row is reported as in a real import, the summary counts what would be
    created, and nothing is kept: no record, no change event, no share row."""
    result = run_command(*org_files(), BAD, "--dry-run")
    errors = result.stderr.splitlines()
    assert errors[0].startswith("ActionCadenceTracker.csv:2:State: 'Runing' is not a value of")
    assert len(errors) == 5
    assert "ActionCadenceTracker: 6 created, 0 updated, 0 unchanged, 5 skipped" in result.stdout
    assert "Dry run: nothing was imported." in result.stdout
    assert not Lead.objects.exists()
    assert not User.objects.exists()
    assert not ActionCadenceTracker.all_objects.exists()
    assert not ActionCadenceTrackerChangeEvent.objects.exists()
    assert not ActionCadenceTrackerShare.objects.exists()


def test_na_and_blank_cells_are_null_and_padded_text_is_kept(db, tmp_path):
    """#N/A (Data Loader's null), padded or not, and cells of spaces only (a
    non-breaking one too) are null; text with spaces around a value keeps them."""
    leads = tmp_path / "Lead.csv"
    leads.write_text(
        "Id,FirstName,LastName,Company,Email,IsConverted\r\n"
        "00QImpLeadNul01,#N/A,Null,  Padded Co ,  #N/A\t,\u00a0\r\n",
        encoding="utf-8",
    )
    result = run_command(str(leads))
    assert result.stderr == ""
    lead = Lead.objects.get(sf_id__startswith="00QImpLeadNul01")
    assert (lead.first_name, lead.email, lead.is_converted) == ("", "", False)
    assert lead.company == "  Padded Co "
