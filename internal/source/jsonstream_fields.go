package source

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// jsonPath is a dot path compiled once: each part as an object key and,
// when it reads as one, as an array index.
type jsonPath struct {
	keys  []string
	index []int // -1 when the part is no index
}

func compileJSONPath(name string) jsonPath {
	p := jsonPath{keys: splitPath(name)}
	for _, k := range p.keys {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 {
			i = -1
		}
		p.index = append(p.index, i)
	}
	return p
}

// rawField reads the field at path p of one record, raw being the
// record's JSON text as the decoder checked it, without decoding the
// record: the same field a decoded record gives at that path (the last
// of repeated keys, a string's text with its escapes and any invalid
// UTF-8 decoded as encoding/json decodes them). A string without escapes
// is a view of raw.
func rawField(raw []byte, p jsonPath) field {
	v := skipSpace(raw)
	for i, key := range p.keys {
		if len(v) == 0 {
			return field{}
		}
		switch v[0] {
		case '{':
			v = objectMember(v, key)
		case '[':
			v = arrayElement(v, p.index[i])
		default:
			return field{}
		}
		if v == nil {
			return field{}
		}
	}
	if len(v) == 0 {
		return field{}
	}
	switch v[0] {
	case 'n':
		return field{}
	case 't':
		return field{text: "true", present: true}
	case 'f':
		return field{text: "false", present: true}
	case '"':
		return field{text: jsonString(v[:valueEnd(v)]), present: true}
	case '{', '[':
		// An object or array where a scalar belongs: present, unreadable.
		return field{text: "[structured]", present: true}
	}
	return field{text: view(v[:valueEnd(v)]), present: true}
}

// objectMember returns the value of the last member named key of the
// object v starts with (encoding/json keeps the last), nil when none.
func objectMember(v []byte, key string) []byte {
	var found []byte
	v = skipSpace(v[1:])
	for len(v) > 0 && v[0] == '"' {
		n := valueEnd(v)
		name := v[:n]
		v = skipSpace(v[n:])
		v = skipSpace(v[1:]) // ':'
		if jsonKeyIs(name, key) {
			found = v
		}
		v = skipSpace(v[valueEnd(v):])
		if len(v) > 0 && v[0] == ',' {
			v = skipSpace(v[1:])
		}
	}
	return found
}

// arrayElement returns element i of the array v starts with, nil when it
// has none.
func arrayElement(v []byte, i int) []byte {
	if i < 0 {
		return nil
	}
	v = skipSpace(v[1:])
	for k := 0; len(v) > 0 && v[0] != ']'; k++ {
		if k == i {
			return v
		}
		v = skipSpace(v[valueEnd(v):])
		if len(v) > 0 && v[0] == ',' {
			v = skipSpace(v[1:])
		}
	}
	return nil
}

// valueEnd is the length of the JSON value v starts with; v is valid
// JSON, checked by the decoder.
func valueEnd(v []byte) int {
	switch v[0] {
	case '"':
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(v)
	case '{', '[':
		depth := 0
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case '"':
				i += valueEnd(v[i:]) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(v)
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return len(v)
}

func skipSpace(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == '\n' || v[0] == '\r') {
		v = v[1:]
	}
	return v
}

// plainString reports whether the quoted string s reads as its bytes: no
// escape, valid UTF-8.
func plainString(s []byte) bool {
	inner := s[1 : len(s)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return false
	}
	for _, c := range inner {
		if c >= utf8.RuneSelf {
			return utf8.Valid(inner)
		}
	}
	return true
}

// jsonString is the text of the quoted string s: a view of it when it
// is plain, else decoded as encoding/json does.
func jsonString(s []byte) string {
	if plainString(s) {
		return view(s[1 : len(s)-1])
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		return view(s[1 : len(s)-1])
	}
	return out
}

func jsonKeyIs(name []byte, key string) bool {
	if plainString(name) {
		return string(name[1:len(name)-1]) == key
	}
	return jsonString(name) == key
}
