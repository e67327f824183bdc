// Package wire is the generated code of envelope.proto, the one message type
// queuecast nodes send each other. Regenerate with `make proto`.
package wire
