// The pluginv2.Plugin gRPC service, registered by hand (no protoc-gen-go-grpc): the four unary
// methods of packages/plugin-proto/proto/pluginv2/pluginv2.proto, as the vCluster host calls them.
package pluginv2

import (
	"context"

	"google.golang.org/grpc"
)

// Server is what a test plugin implements.
type Server interface {
	Initialize(context.Context, *Initialize_Request) (*Initialize_Response, error)
	GetPluginConfig(context.Context, *GetPluginConfig_Request) (*GetPluginConfig_Response, error)
	Mutate(context.Context, *Mutate_Request) (*Mutate_Response, error)
	SetLeader(context.Context, *SetLeader_Request) (*SetLeader_Response, error)
}

func unary[Req any, Res any](name string, call func(Server, context.Context, *Req) (*Res, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(Req)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return call(srv.(Server), ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/pluginv2.Plugin/" + name}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return call(srv.(Server), ctx, req.(*Req))
			})
		},
	}
}

// ServiceDesc is /pluginv2.Plugin.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: "pluginv2.Plugin",
	HandlerType: (*Server)(nil),
	Methods: []grpc.MethodDesc{
		unary("Initialize", Server.Initialize),
		unary("GetPluginConfig", Server.GetPluginConfig),
		unary("Mutate", Server.Mutate),
		unary("SetLeader", Server.SetLeader),
	},
	Metadata: "pluginv2/pluginv2.proto",
}
