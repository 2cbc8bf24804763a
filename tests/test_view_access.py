"""Every view declares who may open it, so that a new view cannot forget (see syncs.access)."""

from __future__ import annotations

from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

# The roles syncs.access and campaigns.access declare on views.
ROLES = {"sync_admin", "manager_or_admin", "signed_in"}


def _patterns(
    patterns: list, prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None, object]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern), namespace, pattern.callback


def _declared(view: object) -> bool:
    role = getattr(view, "access_role", None)
    # Django's @login_not_required marks a view explicitly public with login_required = False.
    return role in ROLES or getattr(view, "login_required", None) is False


def test_every_url_pattern_declares_its_access() -> None:
    found = [
        (route, view)
        for route, namespace, view in _patterns(get_resolver().url_patterns)
        # Django's admin checks staff membership on every one of its views itself.
        if namespace != "admin"
    ]
    assert len(found) > 25  # the walk reaches the included apps' patterns
    undeclared = [route for route, view in found if not _declared(view)]
    assert undeclared == []


def test_the_walk_reports_a_view_without_a_declaration() -> None:
    def forgot(request):  # noqa: ANN001, ANN202 - a bare view, as a new one might be written
        return None

    assert not _declared(forgot)


def test_the_icon_is_found_where_browsers_look_for_it(client) -> None:
    # Pages that name no icon (the Django admin, /healthz) made every browser ask for
    # /favicon.ico and log a 404; anyone may have it, signed in or not.
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"


def test_a_refusal_is_logged_as_one_line_without_a_traceback(client, world) -> None:
    import io
    import logging

    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    old = console.setStream(stream)
    try:
        client.force_login(world.maria)
        assert client.get("/audit/").status_code == 403  # a sync admin's page
    finally:
        console.setStream(old)
    logged = stream.getvalue()
    assert "WARNING django.request Forbidden (Permission denied): /audit/" in logged
    assert "Traceback" not in logged


def test_django_logs_through_our_handler_alone() -> None:
    # Django's own console handler (on while DEBUG is, as in the demo) printed each django.request
    # line a second time, with the traceback our filter leaves out.
    import logging

    from smcbridge.log_filters import RefusalsWithoutTraceback

    django_logger = logging.getLogger("django")
    # (pytest adds handlers of its own, without names.)
    named = [h for h in django_logger.handlers if h.get_name()]
    assert [h.get_name() for h in named] == ["console"]
    assert any(isinstance(f, RefusalsWithoutTraceback) for f in named[0].filters)
    assert django_logger.propagate is False


def test_upstream_text_cannot_forge_a_line_of_the_log() -> None:
    # An export id is Khoros's text (a string of up to 32 characters, line breaks allowed); the
    # KPI sync logs it. With its line break the log showed a second line, an ERROR of our own.
    import io
    import logging

    from khoros.payloads import normalise_id

    export_id = normalise_id("7\r\n2026-12-01 ERROR forged\u2028x", "export")
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    old = console.setStream(stream)
    try:
        logging.getLogger("khoros.kpis.sync").warning(
            "export %s: link refused, asking for a fresh one", export_id
        )
        try:
            raise ValueError("a traceback keeps its lines")
        except ValueError:
            logging.getLogger("syncs.runs").exception("sync %s #%s crashed", "khoros_kpis", 9)
    finally:
        console.setStream(old)
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith(
        "WARNING khoros.kpis.sync export 7\\r\\n2026-12-01 ERROR forged\\u2028x: link refused, "
        "asking for a fresh one"
    )
    assert rest[0].endswith("ERROR syncs.runs sync khoros_kpis #9 crashed")
    assert rest[1] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: a traceback keeps its lines"
