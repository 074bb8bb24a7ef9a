// Package pb holds the protobuf messages and gRPC services of the medshare
// ledger, generated from ledger.proto and node.proto by `make proto`.
package pb

//go:generate protoc --go_out=../.. --go_opt=paths=source_relative --go-grpc_out=../.. --go-grpc_opt=paths=source_relative -I ../.. network/pb/ledger.proto network/pb/node.proto
