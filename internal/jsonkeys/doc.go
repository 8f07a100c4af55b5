// Package jsonkeys walks a JSON body alongside the Go type it decodes into
// and checks the keys of its objects before encoding/json decodes it.
//
// encoding/json alone keeps the last of two equal keys and fills a field
// from a key in any case ("RequestID" for "requestId"), so two readers of
// one body (this service and the sender, a proxy, a log reader) could read
// two amounts or two ids from it. A Walker refuses a key that names a field
// twice in one object, and either every key that is not the exact json
// name of a field (Walker.SkipUnknown false) or only one that differs from
// such a name in case (SkipUnknown true: other keys are additional
// properties, skipped with whatever they hold).
//
// The walk follows the type: an object is checked where the type has a
// struct (not a Walker.Leaves type), an array element by element where it
// has a slice; a value whose shape does not fit the type is skipped, for
// the decoder to refuse. Walker.String checks each string value read on
// the way. How a refusal or a body that is not JSON is reported is the
// caller's (Walker.Refused, Walker.Malformed), so each keeps its own
// messages and error types.
package jsonkeys
