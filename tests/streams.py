"""A request body that tells how much of it the server read, for the tests that a body
refused for its size (or for having no length) is refused before it is read."""

import io


class ReadCounted(io.BytesIO):
    """A request's input stream that counts the bytes the server reads from it."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.taken += len(data)
        return data
