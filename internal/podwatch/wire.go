package podwatch

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// The gRPC service of argo-events' generic event source
// (pkg/eventsources/sources/generic/generic.proto, v1.9.10):
//
//	service Eventing { rpc StartEventSource(EventSource) returns (stream Event); }
//	message EventSource { string name = 1; bytes config = 2; }
//	message Event { string name = 1; bytes payload = 2; }
//
// Its two messages have two fields each, so they are encoded here with
// protowire (wireCodec) rather than by importing argo-events, whose module
// would bring hundreds of packages into the remediator.
const serviceName = "generic.Eventing"

// eventSource is the request: the event name and the EventSource's config.
type eventSource struct {
	Name   string
	Config []byte
}

// event is one message of the stream.
type event struct {
	Name    string
	Payload []byte
}

// wireCodec encodes event and decodes eventSource as protobuf. It is the
// server's only codec (grpc.ForceServerCodec) and answers to "proto", the
// content subtype argo-events' client sends.
type wireCodec struct{}

func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) ([]byte, error) {
	e, ok := v.(*event)
	if !ok {
		return nil, fmt.Errorf("podwatch: cannot encode %T", v)
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, e.Name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, e.Payload)
	return b, nil
}

func (wireCodec) Unmarshal(data []byte, v any) error {
	es, ok := v.(*eventSource)
	if !ok {
		return fmt.Errorf("podwatch: cannot decode into %T", v)
	}
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("podwatch: bad EventSource message: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			val, m := protowire.ConsumeBytes(data)
			if m < 0 {
				return fmt.Errorf("podwatch: bad EventSource field %d: %w", num, protowire.ParseError(m))
			}
			if num == 1 {
				es.Name = string(val)
			} else {
				es.Config = append([]byte(nil), val...)
			}
			data = data[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, data) // unknown fields are skipped, as protobuf does
		if m < 0 {
			return fmt.Errorf("podwatch: bad EventSource field %d: %w", num, protowire.ParseError(m))
		}
		data = data[m:]
	}
	return nil
}

// streamer serves one StartEventSource call until the client leaves.
type streamer interface {
	serve(req *eventSource, send func(*event) error, done <-chan struct{}) error
}

// serviceDesc registers s as generic.Eventing.
func serviceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: serviceName,
		HandlerType: (*streamer)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "StartEventSource",
			ServerStreams: true,
			Handler: func(srv any, stream grpc.ServerStream) error {
				req := new(eventSource)
				if err := stream.RecvMsg(req); err != nil {
					return err
				}
				send := func(e *event) error { return stream.SendMsg(e) }
				return srv.(streamer).serve(req, send, stream.Context().Done())
			},
		}},
		Metadata: "generic.proto",
	}
}
