"""The errors the Dapr SDK raises when the sidecar refuses a call, built the way the SDK
builds them: a DaprGrpcError around a gRPC error whose trailing metadata carries Dapr's
rich status (an ErrorInfo whose reason is Dapr's error code)."""

import grpc
from dapr.clients.exceptions import DaprGrpcError
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

# What daprd 1.18 answers a state read while Redis is stopped (pkg/api/grpc/grpc.go GetState).
REDIS_DOWN = ("fail to get baton:task:t1 from state store statestore: "
              "dial tcp 127.0.0.1:6380: connect: connection refused")


class _FailedCall(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, message: str, status: status_pb2.Status):
        self._code, self._message, self._status = code, message, status

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self):
        return (("grpc-status-details-bin", self._status.SerializeToString()),)


def sidecar_error(code: grpc.StatusCode, message: str, reason: str | None = None) -> DaprGrpcError:
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="dapr.io"))
        status.details.append(detail)
    return DaprGrpcError(_FailedCall(code, message, status))


def state_store_down(reason: str = "ERR_STATE_GET") -> DaprGrpcError:
    return sidecar_error(grpc.StatusCode.INTERNAL, REDIS_DOWN, reason)
