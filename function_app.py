"""The Azure Functions app: HTTP routes, translated to plain calls and back. No logic lives here.

Event Grid and Call Automation both deliver over HTTP triggers (not the built-in Event Grid
trigger) so that the app chooses its status codes, handles a batch in one invocation, and
serves Call Automation callbacks too (docs/delivery-protocol.md).
"""

from __future__ import annotations

import azure.functions as func

from handlers.http import routes as webhook
from handlers.http.codes import handle_codes
from handlers.http.messages import Headers, Request, Response
from handlers.http.routes import flush_outbox
from handlers.http.silences import handle_silences
from handlers.http.status import status_page

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
webhook.prepare()


def to_request(req: func.HttpRequest) -> Request:
    return Request(
        method=req.method,
        body=req.get_body(),
        headers=Headers(dict(req.headers)),
        params=dict(req.params),
        url=req.url,
    )


def to_http_response(response: Response) -> func.HttpResponse:
    return func.HttpResponse(
        body=response.body,
        status_code=response.status,
        headers=dict(response.headers),
        mimetype=response.mimetype,
    )


@app.function_name("eventgrid")
@app.route(route="eventgrid", methods=["POST", "OPTIONS"], auth_level=func.AuthLevel.FUNCTION)
def eventgrid(req: func.HttpRequest) -> func.HttpResponse:
    """Event Grid deliveries and both subscription handshakes."""
    return to_http_response(webhook.eventgrid(to_request(req)))


@app.function_name("callbacks")
@app.route(route="callbacks", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def callbacks(req: func.HttpRequest) -> func.HttpResponse:
    """Call Automation mid-call events, JWT checked."""
    return to_http_response(webhook.callbacks(to_request(req)))


@app.function_name("codes")
@app.route(route="codes", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def codes(req: func.HttpRequest) -> func.HttpResponse:
    """What an error code means and what to do about it."""
    return to_http_response(handle_codes(to_request(req)))


@app.function_name("status")
@app.route(route="status", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
def status(req: func.HttpRequest) -> func.HttpResponse:
    """The status page: what is firing, alarms, silences (and the form to add one)."""
    return to_http_response(status_page(to_request(req)))
@app.function_name("silences")
@app.route(route="silences", methods=["GET", "POST", "DELETE"], auth_level=func.AuthLevel.FUNCTION)
def silences(req: func.HttpRequest) -> func.HttpResponse:
    """Create, list and expire silences (label matchers with an expiry and a comment)."""
    return to_http_response(handle_silences(to_request(req)))


@app.function_name("health")
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Version and readiness, for probes."""
    return to_http_response(webhook.health(to_request(req)))


@app.function_name("flusher")
@app.timer_trigger(schedule="*/10 * * * * *", arg_name="timer", run_on_startup=False)
def flusher(timer: func.TimerRequest) -> None:
    """Send what the outbox holds to the destinations (one instance at a time, as the platform
    runs timers); deliveries never wait on a destination."""
    flush_outbox()
