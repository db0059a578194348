"""REST API: task logs (pieces, tailing, and no way out of the logs folder) and XComs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.cli_db.helpers import move_ti
from tests.web.conftest import Web
from tests.web.ti_helpers import Seeded, add_try, add_xcom, seed, set_log_path, write_log

from sluice.api.log_files import read_log
from sluice.integrations.masking import SecretsMasker

API = "/api/v1"
SECRET = "TOP SECRET: root:x:0:0"


def logs_url(seeded: Seeded, task_id: str = "transform", try_number: object = 1) -> str:
    return f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/{task_id}/logs/{try_number}"


def seeded_with_log(web: Web, text: str = "line one\nline two\n") -> tuple[Seeded, Path]:
    """The failed run's transform has try 1 (failed) with a real log file."""
    seeded = seed(web)
    path = write_log(web, f"dag_id=etl/run_id={seeded.bad}/task_id=transform/attempt=1.log", text)
    add_try(web.store, "etl", seeded.bad, "transform", 1, state="failed", log_path=str(path))
    return seeded, path


def secret_file(web: Web) -> Path:
    """A file next to the logs folder, outside it."""
    path = web.settings.home / "secret.txt"
    path.write_text(SECRET)
    return path


# -- reading ------------------------------------------------------------------------------


def test_a_relative_stored_path_is_inside_the_logs_folder(web: Web) -> None:
    seeded, _ = seeded_with_log(web, "relative\n")
    set_log_path(
        web.store,
        "etl",
        "transform",
        f"dag_id=etl/run_id={seeded.bad}/task_id=transform/attempt=1.log",
    )
    assert web.api("Viewer").get(logs_url(seeded)).json()["content"] == "relative\n"


def test_log_of_a_finished_try_then_from_an_offset(web: Web) -> None:
    seeded, _ = seeded_with_log(web)
    client = web.api("Viewer")
    body = client.get(logs_url(seeded)).json()
    assert body == {"try_number": 1, "content": "line one\nline two\n", "offset": 18,
                    "finished": True}  # fmt: skip
    rest = client.get(logs_url(seeded), params={"offset": 9}).json()
    assert rest["content"] == "line two\n" and rest["offset"] == 18
    past_end = client.get(logs_url(seeded), params={"offset": 500}).json()
    assert past_end["content"] == "" and past_end["finished"] is True


def test_log_as_plain_text(web: Web) -> None:
    seeded, _ = seeded_with_log(web, "<b>not html</b>\n")
    response = web.api("Viewer").get(logs_url(seeded), headers={"Accept": "text/plain"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "<b>not html</b>\n"
    assert response.headers["x-log-offset"] == "16" and response.headers["x-log-finished"] == "true"


def test_tailing_a_running_try(web: Web) -> None:
    seeded = seed(web)
    relative = f"dag_id=etl/run_id={seeded.bad}/task_id=transform/attempt=2.log"
    path = web.settings.base_log_folder / relative
    add_try(web.store, "etl", seeded.bad, "transform", 2, state="running", log_path=str(path))
    client = web.api("Viewer")
    # The runner has not opened the file yet: empty, not an error.
    empty = client.get(logs_url(seeded, try_number=2)).json()
    assert empty == {"try_number": 2, "content": "", "offset": 0, "finished": False}
    write_log(web, relative, "first\n")
    first = client.get(logs_url(seeded, try_number=2)).json()
    assert first["content"] == "first\n" and first["finished"] is False
    with path.open("a") as handle:
        handle.write("second\n")
    second = client.get(logs_url(seeded, try_number=2), params={"offset": first["offset"]}).json()
    assert second["content"] == "second\n" and second["offset"] == 13
    assert second["finished"] is False


def test_log_of_a_queued_try_is_empty_and_unknown_tries_are_404(web: Web) -> None:
    seeded = seed(web)
    move_ti(web.store, "mapped", seeded.mapped, "double", "queued", map_index=1)
    base = f"{API}/dags/mapped/dagRuns/{seeded.mapped}/taskInstances/double/logs"
    client = web.api("Viewer")
    queued = client.get(f"{base}/1?map_index=1").json()
    assert queued == {"try_number": 1, "content": "", "offset": 0, "finished": False}
    later = client.get(f"{base}/3?map_index=1")
    assert later.status_code == 404
    assert later.json()["detail"] == "task 'double' has no try 3: it has not run yet"
    assert client.get(f"{base}/1").status_code == 404  # mapped: needs map_index
    assert client.get(f"{base}/1?map_index=9").status_code == 404


def test_utf8_is_cut_at_whole_characters(tmp_path: Path) -> None:
    path = tmp_path / "attempt=1.log"
    path.write_text("añb€")  # a, 2-byte ñ, b, 3-byte €
    first = read_log(path, 0, over=True, masker=SecretsMasker(), max_bytes=2)
    assert first.content == "a" and first.offset == 1 and first.finished is False
    second = read_log(path, first.offset, over=True, masker=SecretsMasker(), max_bytes=4)
    assert second.content == "ñb" and second.offset == 4
    third = read_log(path, second.offset, over=True, masker=SecretsMasker(), max_bytes=256)
    assert third.content == "€" and third.finished is True
    assert read_log(None, 0, over=False, masker=SecretsMasker()).content == ""


# -- no way out of the logs folder --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/dags/../../../etc/dagRuns/x/taskInstances/passwd/logs/1",
        "/api/v1/dags/%2e%2e/dagRuns/%2e%2e/taskInstances/%2e%2e%2fsecret.txt/logs/1",
        "/api/v1/dags/etl/dagRuns/%2Fetc%2Fpasswd/taskInstances/transform/logs/1",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/..%2F..%2F..%2Fsecret.txt/logs/1",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/1/..%2F..%2Fsecret.txt",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/..%2Fsecret.txt",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/%2Fetc%2Fpasswd",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/0",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/-1",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/1e3",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/1?map_index=../../x",
        "/api/v1/dags/etl/dagRuns/{bad}/taskInstances/transform/logs/1?offset=-5",
    ],
)
def test_path_parameters_cannot_reach_outside_the_logs_folder(web: Web, url: str) -> None:
    seeded, _ = seeded_with_log(web, "inside\n")
    secret_file(web)
    response = web.api("Admin").get(url.format(bad=seeded.bad))
    assert response.status_code in (400, 404, 422), response.text
    assert "TOP SECRET" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("where", ["etc_passwd", "dotdot", "relative", "symlink", "dir_link"])
def test_a_stored_log_path_outside_the_logs_folder_is_refused(web: Web, where: str) -> None:
    seeded, _ = seeded_with_log(web, "inside\n")
    secret = secret_file(web)
    logs = web.settings.base_log_folder
    if where == "etc_passwd":
        stored = "/etc/passwd"
    elif where == "dotdot":
        stored = f"{logs}/dag_id=etl/../../secret.txt"
    elif where == "relative":
        stored = "../secret.txt"  # relative: to the logs folder
    elif where == "symlink":
        link = logs / "dag_id=etl" / "attempt=9.log"
        link.symlink_to(secret)
        stored = str(link)
    else:
        (logs / "escape").symlink_to(secret.parent, target_is_directory=True)
        stored = str(logs / "escape" / "secret.txt")
    set_log_path(web.store, "etl", "transform", stored)
    client = web.api("Admin")
    for headers in ({}, {"Accept": "text/plain"}):
        response = client.get(logs_url(seeded), headers=headers)
        assert response.status_code == 403, response.text
        assert "outside the logs folder" in response.json()["detail"]
        assert "TOP SECRET" not in response.text and "root:" not in response.text


def test_a_fifo_in_the_logs_folder_is_refused_without_hanging(web: Web) -> None:
    seeded, _ = seeded_with_log(web)
    fifo = web.settings.base_log_folder / "pipe.log"
    os.mkfifo(fifo)
    set_log_path(web.store, "etl", "transform", str(fifo))
    response = web.api("Admin").get(logs_url(seeded))
    assert response.status_code == 403 and "not a regular file" in response.json()["detail"]


def test_logs_need_a_login(web: Web) -> None:
    seeded, _ = seeded_with_log(web)
    assert web.client().get(logs_url(seeded)).status_code == 401


# -- XCom ---------------------------------------------------------------------------------


def xcom_url(seeded: Seeded, task_id: str = "extract") -> str:
    return f"{API}/dags/etl/dagRuns/{seeded.good}/taskInstances/{task_id}/xcomEntries"


def test_xcom_entries_and_values(web: Web) -> None:
    seeded = seed(web)
    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    add_xcom(
        web.store, "etl", seeded.good, "extract", "return_value", {"rows": [1, 2], "at": stamp}
    )
    add_xcom(web.store, "etl", seeded.good, "extract", "a/b key", "<script>x</script>")
    client = web.api("Viewer")
    listed = client.get(xcom_url(seeded)).json()
    assert listed["total"] == 2
    assert [e["key"] for e in listed["items"]] == ["a/b key", "return_value"]
    assert "value" not in listed["items"][0] and listed["items"][0]["dag_run_id"] == seeded.good
    paged = client.get(xcom_url(seeded), params={"limit": 1, "offset": 1}).json()
    assert paged["total"] == 2 and [e["key"] for e in paged["items"]] == ["return_value"]
    value = client.get(f"{xcom_url(seeded)}/return_value").json()
    assert value["value"] == {"rows": [1, 2], "at": "2024-01-02T03:04:05Z"}
    assert value["task_id"] == "extract" and value["map_index"] == -1
    slashed = client.get(f"{xcom_url(seeded)}/a/b%20key").json()
    assert slashed["value"] == "<script>x</script>"


def test_xcom_not_found(web: Web) -> None:
    seeded = seed(web)
    add_xcom(web.store, "etl", seeded.good, "extract", "return_value", 1)
    client = web.api("Viewer")
    missing = client.get(f"{xcom_url(seeded)}/return_valeu")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        f"XCom key 'return_valeu' not found for task 'extract' in run '{seeded.good}'."
        " Did you mean: 'return_value'?"
    )
    no_task = client.get(xcom_url(seeded, "nope"))
    assert no_task.status_code == 404 and "Task 'nope' not found" in no_task.json()["detail"]
    empty = client.get(xcom_url(seeded, "load")).json()
    assert empty == {"items": [], "total": 0, "limit": 100, "offset": 0}
