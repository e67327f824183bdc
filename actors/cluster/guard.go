package cluster

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The library decodes incoming messages inside its gRPC handlers without a
// recover: a proto type this binary does not know (a newer node in a
// rolling deploy, or anyone who can reach the port) is a nil dereference,
// an out-of-range serializer or target index is an index panic, and its
// unimplemented diagnostics calls panic on purpose. Any of these would end
// the process. These interceptors turn such a panic into a dropped stream or
// call, logged by drops: the sending node reconnects, and this node keeps
// serving. Whatever else that batch carried is lost with it.

func guardStream(drops *dropLog) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				drops.drop("undecodable message from another node (unknown type?); its stream was closed",
					slog.String("method", info.FullMethod), slog.String("panic", fmt.Sprint(p)))
				err = status.Error(codes.InvalidArgument, "message dropped")
			}
		}()
		return handler(srv, ss)
	}
}

func guardUnary(drops *dropLog) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				drops.drop("call the library does not implement", slog.String("method", info.FullMethod), slog.String("panic", fmt.Sprint(p)))
				err = status.Error(codes.Unimplemented, "not served")
			}
		}()
		return handler(ctx, req)
	}
}
