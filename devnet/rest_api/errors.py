"""Sawtooth's REST API error table (rest_api/sawtooth_rest_api/exceptions.py,
branch 1-2) and `ApiError`, the one exception a route raises to answer with
Sawtooth's `{"error": {"code", "title", "message"}}` body."""
from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

from sawgrid.devnet.rest_api.messages import Response


class ErrorKind(NamedTuple):
    """One row of the table: HTTP status, Sawtooth error code, title, message."""

    status: int
    code: int
    title: str
    message: str


UNKNOWN_VALIDATOR_ERROR = ErrorKind(
    500, 10, "Unknown Validator Error",
    "An unknown error occurred with the validator while processing your request.")
VALIDATOR_NOT_READY = ErrorKind(
    503, 15, "Validator Not Ready",
    "The validator has no genesis block, and is not yet ready to be queried. "
    "Try your request again later.")
RESOURCE_HEADER_INVALID = ErrorKind(
    500, 21, "Invalid Resource Header",
    "The resource fetched from the validator had an invalid header, and may be corrupted.")
SUBMITTED_BATCHES_INVALID = ErrorKind(
    400, 30, "Submitted Batches Invalid",
    "The submitted BatchList was rejected by the validator. It was poorly formed, "
    "or has an invalid signature.")
BATCH_QUEUE_FULL = ErrorKind(
    429, 31, "Unable to Accept Batches",
    "The validator cannot currently accept more batches, due to a full queue.  "
    "Please submit your request again.")
NO_BATCHES_SUBMITTED = ErrorKind(
    400, 34, "No Batches Submitted",
    "The protobuf BatchList you submitted was empty and contained no Batches. "
    "You must submit at least one Batch.")
BAD_PROTOBUF_SUBMITTED = ErrorKind(
    400, 35, "Protobuf Not Decodable",
    "The protobuf BatchList you submitted was malformed and could not be read.")
SUBMISSION_WRONG_CONTENT_TYPE = ErrorKind(
    400, 42, "Wrong Content Type",
    "Batches must be submitted in a BatchList protobuf binary, with a 'Content-Type' "
    "header of 'application/octet-stream'.")
STATUS_WRONG_CONTENT_TYPE = ErrorKind(
    400, 43, "Wrong Content Type",
    "Requests for batch statuses sent as a POST must have a 'Content-Type' header "
    "of 'application/json'.")
STATUS_BODY_INVALID = ErrorKind(
    400, 46, "Bad Status Request",
    "Requests for batch statuses sent as a POST must have a JSON formatted body "
    "with an array of at least one id string.")
HEAD_NOT_FOUND = ErrorKind(
    404, 50, "Head Not Found",
    "There is no block with the id specified in the 'head' query parameter.")
COUNT_INVALID = ErrorKind(
    400, 53, "Invalid Count Query",
    "The 'count' query parameter must be a positive, non-zero integer.")
PAGING_INVALID = ErrorKind(
    400, 54, "Invalid Paging Query",
    "Paging request failed as written. One or more of the 'min', 'max', or 'count' "
    "query parameters were invalid or out of range.")
SORT_INVALID = ErrorKind(
    400, 57, "Invalid Sort Query",
    "The sort request failed as written. Some of the keys specified were not valid.")
INVALID_RESOURCE_ID = ErrorKind(
    400, 60, "Invalid Resource Id",
    "Blockchain items are identified by 128 character hex-strings. A submitted block, "
    "batch, or transaction id was invalid: ")
INVALID_STATE_ADDRESS = ErrorKind(
    400, 62, "Invalid State Address",
    "The state address submitted was invalid. To fetch specific state data, you must "
    "submit the full 70-character address.")
STATUS_ID_QUERY_INVALID = ErrorKind(
    400, 66, "Id Query Invalid or Missing",
    "Requests for batch statuses sent as a GET request must have an 'id' query "
    "parameter with a comma-separated list of at least one batch id.")
BLOCK_NOT_FOUND = ErrorKind(
    404, 70, "Block Not Found",
    "There is no block with the id specified in the blockchain.")
BATCH_NOT_FOUND = ErrorKind(
    404, 71, "Batch Not Found",
    "There is no batch with the id specified in the blockchain.")
TRANSACTION_NOT_FOUND = ErrorKind(
    404, 72, "Transaction Not Found",
    "There is no transaction with the id specified in the blockchain.")
STATE_NOT_FOUND = ErrorKind(
    404, 75, "State Not Found",
    "There is no state data at the address specified.")
RECEIPT_NOT_FOUND = ErrorKind(
    404, 80, "Transaction Receipt Not Found",
    "There is no transaction receipt for the transaction id specified in the receipt store.")
RECEIPT_WRONG_CONTENT_TYPE = ErrorKind(
    400, 81, "Wrong Content Type",
    "Requests for transaction receipts sent as a POST must have a 'Content-Type' "
    "header of 'application/json'.")
RECEIPT_BODY_INVALID = ErrorKind(
    400, 82, "Bad Receipts Request",
    "Requests for transaction receipts sent as a POST must have a JSON formatted body "
    "with an array of at least one id string.")
RECEIPT_ID_QUERY_INVALID = ErrorKind(
    400, 83, "Id Query Invalid or Missing",
    "Requests for transaction receipts sent as a GET request must have an 'id' query "
    "parameter with a comma-separated list of at least one transaction id.")


def http_error(status: int, message: str = "") -> ErrorKind:
    """An HTTP-level error Sawtooth leaves to aiohttp (unknown path, wrong
    method, body too large, ...). aiohttp answers those in plain text; we keep
    Sawtooth's JSON shape, with the HTTP status as the error code."""
    phrase = HTTPStatus(status).phrase
    return ErrorKind(status, status, phrase, message or phrase + ".")


class ApiError(Exception):
    """An error answered as Sawtooth's `{"error": {"code", "title", "message"}}`."""

    def __init__(self, kind: ErrorKind, additional_info: str = "") -> None:
        super().__init__(f"{kind.title}: {kind.message}{additional_info}")
        self.kind = kind
        self.additional_info = additional_info

    def response(self) -> Response:
        """The error as Sawtooth renders it."""
        error = {
            "code": self.kind.code,
            "title": self.kind.title,
            "message": self.kind.message + self.additional_info,
        }
        return Response(self.kind.status, {"error": error})

