from .. import checks
from ..checks import beat_schedule_names_real_tasks


def test_the_shipped_beat_schedule_names_real_tasks():
    assert beat_schedule_names_real_tasks(None) == []


def test_a_schedule_entry_naming_a_missing_task_is_an_error(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "send-daily-reports": {"task": "monitoring.tasks.send_daily_reports", "schedule": 86400},
    }
    errors = beat_schedule_names_real_tasks(None)
    assert [error.id for error in errors] == [f"{checks.APP}.E001"]
    assert "monitoring.tasks.send_daily_reports" in errors[0].msg
