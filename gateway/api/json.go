package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// jsonRaw is a raw JSON value that keeps "null" out: an absent or null field
// stays empty.
type jsonRaw []byte

func (r *jsonRaw) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		*r = append((*r)[:0], b...)
	}
	return nil
}

// decodeJSON decodes a JSON object body into v, refusing unknown fields, and
// turns every failure into a 400 naming the problem.
func decodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("%s must be a %s", te.Field, jsonKind(te.Type.Kind().String())))
		case errors.As(err, &te):
			return fiber.NewError(fiber.StatusBadRequest, "request body must be a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fiber.NewError(fiber.StatusBadRequest, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return fiber.NewError(fiber.StatusBadRequest, "malformed JSON body")
		}
	}
	if dec.More() {
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON body")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "number"
	case "slice":
		return "list"
	case "struct", "map":
		return "object"
	}
	return k
}
