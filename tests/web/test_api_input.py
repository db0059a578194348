"""Bad input to the REST API: a specific 4xx, and nothing changed."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, Web

from sluice.store.variables import get_variable


def test_an_unknown_body_field_is_refused_not_ignored(web: Web) -> None:
    api = web.api("Admin")
    assert api.post("/api/v1/variables", json={"key": "region", "value": "eu"}).status_code == 200
    typo = api.patch("/api/v1/variables/region", json={"valu": "us"})
    assert typo.status_code == 422
    assert typo.json()["errors"] == [{"field": "valu", "message": "Extra inputs are not permitted"}]
    with web.store.transaction() as session:
        variable = get_variable(session, "region")
        assert variable is not None and variable.value == "eu"
    pool = api.patch("/api/v1/pools/default_pool", json={"slot": 10})
    assert pool.status_code == 422 and "slot" in pool.json()["detail"]


def test_huge_offset_and_bad_json(web: Web) -> None:
    api = web.api("Viewer")
    huge = api.get("/api/v1/dags?offset=9223372036854775808")
    assert huge.status_code == 422
    assert huge.headers["content-type"] == "application/problem+json"
    assert huge.json()["errors"][0]["field"] == "offset"
    broken = web.api("Op").post(
        "/api/v1/dags/x/dagRuns",
        content=b'{"conf": {"name": }',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("body: not valid JSON at character 18")


def test_a_locked_out_user_is_refused_even_with_the_right_password(web: Web) -> None:
    client = web.client()
    assert client.get("/api/v1/importErrors", auth=("viewer", PASSWORD)).status_code == 200
    for _ in range(5):
        assert client.get("/api/v1/importErrors", auth=("viewer", "nope")).status_code == 401
    # The right password was checked (and cached) before; it does not get around the limit.
    locked = client.get("/api/v1/importErrors", auth=("viewer", PASSWORD))
    assert locked.status_code == 429
    assert locked.headers["retry-after"]
