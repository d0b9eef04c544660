"""The HTTP service (``fute serve``): a FastAPI app over one registry.

Reads need no credentials; writes (``POST /transfers``, ``POST /jobs``, ``DELETE`` and ``PATCH
/subjects/...``) need ``Authorization: Bearer <token>`` and are refused with 403 when the server runs
without a token. Registry errors map to status codes (``error_status``) with a ``{"detail": message}`` body;
request bodies over 5 MB get 413. Catalogue jobs run in a background thread with their own registry
connections, so readers (plain ``def`` handlers in the thread pool, SQLite in WAL mode) never wait
for them. OpenAPI docs are served at ``/docs``, offline (``fute.http_docs``).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, cast

import yaml
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fute.http_docs import add_docs
from fute.http_edits import add_edit_routes
from fute.http_files import check_file_arguments
from fute.http_routes import Reg, catalogue_router, jobs_router, query_router
from fute.web import web_router
from ingest.job_file import Catalogue, load_catalogue
from query.answers import TransferImportAnswer, transfer_import_answer
from query.listings import Deleted, JobSubmitted
from query.transfer import import_transfer_rows
from registry.api import Registry
from registry.errors import (
    AlreadyExistsError,
    DatabaseUnavailableError,
    LockTimeoutError,
    NotFoundError,
    RegistryError,
)
from registry.settings import Settings
from registry.validate import shown

MAX_BODY_BYTES = 5 * 1024 * 1024
WRITES_DISABLED = "writes disabled: start fute serve with a token (FUTE_API_TOKEN)"
TOO_LARGE = f"request body over {MAX_BODY_BYTES // (1024 * 1024)} MB; send less per request"
BAD_TOKEN = "missing or wrong bearer token; send 'Authorization: Bearer <token>'"
log = logging.getLogger("fute.http")


def error_status(exc: Exception) -> int:
    """HTTP status of a registry (or value) error.

    Args:
        exc: The error a handler raised.

    Returns:
        404 not found, 409 already exists, 503 database unavailable or writer lock timeout,
        422 invalid data / config / value, 400 any other registry error.
    """
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AlreadyExistsError):
        return 409
    if isinstance(exc, DatabaseUnavailableError | LockTimeoutError):
        return 503
    if isinstance(exc, ValueError):
        return 422
    return 400


# The query layer names options as the CLI spells them; a message that starts with one of these
# names the HTTP query parameter instead (commands quoted later in the message stay CLI commands).
HTTP_PARAMS = {"--space ": "space=", "--where ": "where=", "--llm ": "llm=", "--kind ": "kind="}


def http_wording(message: str) -> str:
    """A registry error message as an HTTP client should read it (``space=`` rather than ``--space``).

    Args:
        message: The error's text.

    Returns:
        The text with a leading CLI option replaced by its query parameter.
    """
    for flag, param in HTTP_PARAMS.items():
        if message.startswith(flag):
            return param + message[len(flag) :]
    return message


async def _error_response(_request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": http_wording(str(exc))}, status_code=error_status(exc))


async def _validation_response(_request: Request, exc: Exception) -> Response:
    """FastAPI's 422, with every offending input cut to 80 characters: the default echoed the whole
    value back (a 3.5 MB vector came back in full)."""
    errors = cast(RequestValidationError, exc).errors()
    detail = [
        {
            "loc": list(e.get("loc", ())),
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
            "input": shown(e.get("input"), 80),
        }
        for e in errors[:20]
    ]
    return JSONResponse({"detail": detail}, status_code=422)


class BodyLimit:
    """ASGI middleware: 413 with a JSON ``detail`` for bodies over ``max_bytes``; a declared
    ``Content-Length`` is refused before reading, a streamed (chunked) body while it is counted."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Args:
        app: The wrapped ASGI app.
        max_bytes: Largest accepted request body.
        """
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse or count the body, then call the wrapped app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": TOO_LARGE}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI re-raises it from the body read: a JSON 413
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)


def check_token(request: Request) -> None:
    """Refuse a write unless it carries the server's bearer token.

    Args:
        request: The incoming request (the token lives in ``app.state.token``).

    Raises:
        HTTPException: 403 when the server has no token, 401 when the header is missing or wrong.
    """
    expected = cast(str | None, request.app.state.token)
    if expected is None:
        raise HTTPException(403, WRITES_DISABLED)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())
    if not ok:
        raise HTTPException(401, BAD_TOKEN, headers={"WWW-Authenticate": "Bearer"})


class TokenRoute(APIRoute):
    """A route that checks the bearer token before the body is read or validated, so an
    unauthenticated client gets 401/403, never a validation report."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, behind ``check_token``."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            check_token(request)
            return await handler(request)

        return guarded


def _bearer_doc(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))],
) -> None:
    """Declares the bearer scheme in OpenAPI (the check itself is ``TokenRoute``)."""


class TransferRow(BaseModel):
    """One measured transfer: source -> target, a score, an optional setting."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=300)
    target: str = Field(min_length=1, max_length=300)
    score: float = Field(allow_inf_nan=False)
    setting: str | None = Field(default=None, min_length=1, max_length=100)


class TransfersBody(BaseModel):
    """Body of ``POST /transfers``."""

    model_config = ConfigDict(extra="forbid")

    rows: list[TransferRow] = Field(min_length=1, max_length=100_000)
    origin: str = Field(default="api", min_length=1, max_length=200)
    on_conflict: Literal["keep", "replace", "error"] = "replace"


class JobRunner:
    """Starts catalogue jobs in background threads, each with its own registry connections."""

    def __init__(self, settings: Settings) -> None:
        """Args:
        settings: Settings of the served registry.
        """
        self.settings = settings
        self.folder = settings.home / "jobs"
        self.threads: list[threading.Thread] = []

    def save(self, body: dict[str, Any]) -> Catalogue:
        """Write a catalogue body to ``<home>/jobs/api-*.yaml`` and validate it like a file.

        Raises:
            InvalidDataError: The catalogue breaks the rules of ``ingest.job_file``.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"api-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
        try:
            return load_catalogue(path)
        except RegistryError:
            path.unlink(missing_ok=True)
            raise

    def start(self, reg: Registry, cat: Catalogue) -> int:
        """Open the job row of ``cat``, then run ``ingest.jobs.run_catalogue`` on it in a daemon
        thread; the id is known before the thread starts, so nothing polls for it.

        Args:
            reg: The served registry (the row is written through it, in the request).
            cat: The validated catalogue.

        Returns:
            The job id.
        """
        from ingest.jobs import catalogue_job  # the job machinery loads the models: only when used

        job_id = catalogue_job(reg, cat)
        thread = threading.Thread(
            target=self._run, args=(cat, job_id), name=f"job-{cat.path.stem}", daemon=True
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        return job_id

    def _run(self, cat: Catalogue, job_id: int) -> None:
        from ingest.engine import Engine
        from ingest.jobs import run_catalogue

        reg = Registry.open(self.settings)
        try:
            report = run_catalogue(reg, Engine(reg), cat, show_progress=False, job_id=job_id)
            log.info("job %s finished: %s", report.job_id, report.status)
        except Exception:  # the thread must not die silently; the job row keeps its status
            log.exception("catalogue job %s crashed", cat.path)
        finally:
            reg.close()


def write_router() -> APIRouter:
    """Routes that change the registry (bearer token required).

    Returns:
        A router to include in the app.
    """
    router = APIRouter(route_class=TokenRoute, dependencies=[Depends(_bearer_doc)], tags=["write"])

    @router.post("/transfers", response_model=TransferImportAnswer)
    def transfers(reg: Reg, body: TransfersBody) -> TransferImportAnswer:
        """Import measured transfer results (rows of source, target, score, setting); repeated or
        changed (source, target, setting) keys are resolved by ``on_conflict`` and reported."""
        rows = [row.model_dump(exclude_none=True) for row in body.rows]
        report = import_transfer_rows(reg, rows, body.origin, body.on_conflict)
        return transfer_import_answer(report)

    @router.post("/jobs", status_code=202, response_model=JobSubmitted)
    def submit_job(request: Request, reg: Reg, body: dict[str, Any]) -> JobSubmitted:
        """Start a catalogue job (same sections as the YAML catalogue); poll ``GET /jobs/{id}``.

        Files it names must lie under ``FUTE_HTTP_ROOTS`` (403 otherwise, see ``fute.http_files``).
        The job row is written before the answer, so ``job_id`` always names it (its
        ``params.file`` is ``file``).
        """
        runner = cast(JobRunner, request.app.state.jobs)
        check_file_arguments(body, reg.settings.allowed_roots)  # before anything is written
        cat = runner.save(body)
        job_id = runner.start(reg, cat)
        return JobSubmitted(status="submitted", job_id=job_id, file=str(cat.path))

    @router.delete("/subjects/{kind}/{name}", response_model=Deleted)
    def delete_subject(reg: Reg, kind: Literal["dataset", "model", "prompt"], name: str) -> Deleted:
        """Delete a subject with its tags and vectors (every index kept in step)."""
        reg.delete_subject(name, kind)
        return Deleted(deleted=name, kind=kind)

    add_edit_routes(router)  # PATCH /subjects/{kind}/{name}: tags and rename (fute.http_edits)
    return router


def create_app(settings: Settings, token: str | None) -> FastAPI:
    """Build the HTTP app over the registry that ``settings`` names.

    Args:
        settings: Registry settings (home, database URL).
        token: Bearer token for write endpoints; None (or empty) disables writes (403).

    Returns:
        The FastAPI app; run it with uvicorn.

    Raises:
        RegistryNotInitializedError: ``fute init`` was never run on this database.
        SchemaOutdatedError: Run ``fute db upgrade``.
    """
    reg = Registry.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        reg.close()

    app = FastAPI(
        title="FUTE Registry",
        description="Task embeddings: datasets, models and prompts in one vector space.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # add_docs serves /docs from local assets (FastAPI's page uses a CDN)
        redoc_url=None,
    )
    app.state.registry = reg
    app.state.token = token or None
    app.state.jobs = JobRunner(settings)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_exception_handler(RegistryError, _error_response)
    app.add_exception_handler(ValueError, _error_response)
    app.add_exception_handler(RequestValidationError, _validation_response)
    for router in (catalogue_router(), jobs_router(), query_router(), write_router(), web_router()):
        app.include_router(router)
    add_docs(app)
    return app
