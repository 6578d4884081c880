"""A request through the WSGI application in gunicorn's order, inside the test's transaction.

gunicorn's sync worker calls the application, writes every chunk of the body to the
socket, and only then closes the application's answer (``respiter.close()``), which is
where Django sends ``request_finished``. Django's test client does all three inside one
call, so a test that must tell what ran before the client had its answer from what ran
after takes the steps one at a time here.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory


@dataclass
class Answer:
    status: str
    body: bytes
    #: What the server calls once the body is sent: Django's ``request_finished``.
    close: Callable[[], None]


@contextmanager
def connections_kept_open() -> Iterator[None]:
    """The handler closes the connection as a request starts and finishes, as a server
    must; that would end the test's transaction. Django's test client disconnects it for
    its requests, and so does this (``close_old_connections`` goes back last, as after
    any test client request)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def served(path: str, *, headers: dict[str, str]) -> Answer:
    """Call the application and read the body; leave the close to the caller."""
    from config.wsgi import application

    environ = RequestFactory().get(path, headers=headers).environ
    started: list[str] = []
    answer = application(environ, lambda status, _headers: started.append(status))
    body = b"".join(answer)
    return Answer(status=started[0], body=body, close=answer.close)
