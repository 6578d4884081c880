"""What an import raises when its file or its options cannot be imported as they are:
nothing was written, and the commands print the message as it is.
"""


class DatasetImportError(Exception):
    """The file or the options cannot be imported as they are; nothing was written."""
