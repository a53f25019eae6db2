"""What a failure of object storage is told apart from: LanceDB's and obstore's messages
(as they come, captured from moto, Azurite and a damaged library) sorted into the storage
not answering (retry), refusing the credentials, and anything else (the caller's own
error: a damaged or missing file)."""

import pytest
from attune.engine.storage.place import DeniedError, UnreachableError, place_of, storage_failure

REFUSED = ("lance error: LanceError(IO): Generic N/A error: LanceError(IO): Generic S3 error: Error performing GET "
           "http://127.0.0.1:59531/b/music/tracks.lance/data/0110.lance in 415.71312ms, after 3 retries, max_retries: 3, "
           "retry_timeout: 180s  - HTTP error: error sending request, /root/.cargo/registry/src/index.crates.io-1949cf8c6b5"
           "b557f/lance-io-13.0.0/src/object_store.rs:1506:92")
DEBUG_FORM = ('Invalid input, Failed to connect to namespace: IO { source: Generic { store: "S3", source: ListRequest { '
              "source: RetryError(RetryErrorImpl { method: GET, uri: Some(http://127.0.0.1:37125/b?list-type=2&prefix=m), "
              "retries: 3, max_retries: 3, elapsed: 346.456082ms, retry_timeout: 180s, inner: Http(HttpError { kind: "
              'Connect, source: reqwest::Error { kind: Request, source: ConnectError("tcp connect error", 127.0.0.1:37125, '
              'Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })) } }) }')
THROTTLED = ("Generic S3 error: Error performing PUT http://s3.example/b/m/x in 30s, after 10 retries - Server returned "
             "non-2xx status code: 503 Service Unavailable: <?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>")
FORBIDDEN = ("Generic MicrosoftAzure error: Error performing list request: Error performing GET http://127.0.0.1:1/acct/c"
             "?restype=container in 3ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>")
DAMAGED = ("lance error: Encountered corrupt file s3://b/m/tracks.lance/data/0110.lance: miniblock_metadata is out of "
           "range, /root/.cargo/registry/src/lance-encoding-13.0.0/src/decoder.rs:120:9")
MISSING = "lance error: Not found: b/m/tracks.lance/_versions/3.manifest, /root/.cargo/src/object_store.rs:1506:92"


@pytest.mark.parametrize("text, kind, shown", [
    (REFUSED, UnreachableError, "(Error performing GET http://127.0.0.1:59531/b/music/tracks.lance/data/0110.lance in "
                                "415.71312ms, after 3 retries  - HTTP error: error sending request)"),
    (DEBUG_FORM, UnreachableError, "(Connection refused: http://127.0.0.1:37125/b?list-type=2&prefix=m)"),
    (THROTTLED, UnreachableError, "status code: 503 Service Unavailable)"),
    (FORBIDDEN, DeniedError, "status code: 403 Forbidden)"),
])
def test_the_storage_failing_is_told_with_its_one_useful_line(text, kind, shown):
    error = storage_failure("s3://b/m", RuntimeError(text), "reading the tracks table")
    assert type(error) is kind
    message = str(error)
    assert message.startswith("the storage at s3://b/m ") and "while reading the tracks table" in message
    assert shown in message, message
    assert ".rs:" not in message and "max_retries" not in message and "<?xml" not in message
    assert ("retry" in message) == (kind is UnreachableError)
    assert ("AWS_ACCESS_KEY_ID" in message) == (kind is DeniedError)


@pytest.mark.parametrize("text", [DAMAGED, MISSING, "Invalid user input: no such column: energyy"])
def test_a_damaged_or_missing_file_is_not_taken_for_the_storage_failing(text):
    assert storage_failure("s3://b/m", RuntimeError(text), "reading the tracks table") is None


def test_a_local_folder_never_blames_the_storage(tmp_path):
    """A folder's errors are about its files (a full disk, a damaged file): told as such."""
    assert place_of(tmp_path).failure(RuntimeError(REFUSED), "reading") is None
    assert place_of("s3://b/m").failure(RuntimeError(REFUSED), "reading") is not None
