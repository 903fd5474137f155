import grpc
from google.rpc import error_details_pb2

from chorus.kit.errors import ErrorCode, ProblemError, Violation


def test_problem_json_lists_every_violation_with_a_stable_code() -> None:
    error = ProblemError(
        ErrorCode.VALIDATION_FAILED,
        "2 problems",
        [Violation("url", "not a URL"), Violation("title", "too long")],
        {"current_state": "draft"},
    )
    body = error.to_problem(instance="/v1/items")
    assert body["status"] == 422
    assert body["code"] == "validation_failed"
    assert body["type"] == "urn:chorus:problem:validation_failed"
    assert body["violations"] == [
        {"field": "url", "message": "not a URL"},
        {"field": "title", "message": "too long"},
    ]
    assert body["current_state"] == "draft"
    assert body["instance"] == "/v1/items"


def test_the_same_code_maps_to_a_rich_grpc_status() -> None:
    error = ProblemError(ErrorCode.VALIDATION_FAILED, "bad", [Violation("url", "not a URL")])
    status = error.to_rpc_status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and info.reason == "VALIDATION_FAILED"
    assert status.details[1].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "url"


def test_every_code_has_distinct_slug_and_a_client_or_server_status() -> None:
    slugs = [code.slug for code in ErrorCode]
    assert len(slugs) == len(set(slugs))
    assert all(400 <= code.http_status < 600 for code in ErrorCode)


def test_rich_status_texts_stay_within_what_grpc_trailers_carry() -> None:
    from chorus.kit.errors import MAX_DETAIL, MAX_VIOLATIONS

    echoing = ProblemError(
        ErrorCode.NOT_FOUND,
        "item " + "x" * 100_000 + " not found",
        [Violation("f" * 10_000, "m" * 10_000)] * 50,
    )
    status = echoing.to_rpc_status()
    assert len(status.message) == MAX_DETAIL and status.message.startswith("item xxx")
    assert len(status.SerializeToString()) < 8 * 1024 * 3 // 4  # base64 in an 8 KiB trailer
    bad_request = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad_request)
    assert len(bad_request.field_violations) == MAX_VIOLATIONS


def test_the_documented_table_lists_every_code_once() -> None:
    from pathlib import Path

    table = (Path(__file__).parents[3] / "docs" / "errors.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = [row.split("`")[1] for row in rows]
    assert documented == [code.slug for code in ErrorCode]
    for code, row in zip(ErrorCode, rows, strict=True):
        assert f"| {code.http_status} | `{code.grpc_status.name}` | {code.title} |" in row
