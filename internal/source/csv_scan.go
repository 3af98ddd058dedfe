package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"
)

// csvScanner splits a CSV stream into records by the rules of
// encoding/csv (RFC 4180: quoted fields with "" for a quote, which may
// span lines; \r\n read as \n; empty lines skipped; every record as many
// fields as the first) without allocating per record: a record's fields
// are views of the read buffer, or of one reused buffer when a field is
// quoted, valid until the next call to next. Malformed input is handed to
// encoding/csv itself, so the errors are its own, line numbers included.
type csvScanner struct {
	br    *bufio.Reader
	comma []byte
	// line is the number of lines read, recLine the first line of the
	// record last returned, offset the bytes read.
	line, recLine int
	offset        int64
	// fields is the record last returned, nfields the count every record
	// must have (0 until the header is read).
	fields  []string
	nfields int
	long    []byte // a line longer than the read buffer
	// recBuf holds a quoted record's unescaped fields, ends their ends,
	// raw its lines as read (for encoding/csv's error).
	recBuf []byte
	ends   []int
	raw    []byte
}

func newCSVScanner(r io.Reader, size int, comma rune) (*csvScanner, error) {
	if comma == 0 || comma == '"' || comma == '\r' || comma == '\n' || !utf8.ValidRune(comma) || comma == utf8.RuneError {
		// encoding/csv's own refusal, word for word.
		c := csv.NewReader(bytes.NewReader(nil))
		c.Comma = comma
		_, err := c.Read()
		return nil, err
	}
	return &csvScanner{br: bufio.NewReaderSize(r, size), comma: utf8.AppendRune(nil, comma)}, nil
}

// readLine returns the next line with its \r\n normalised to \n, as
// encoding/csv reads it.
func (s *csvScanner) readLine() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			s.long = append(s.long, line...)
		}
		line = s.long
	}
	n := len(line)
	if n > 0 && err == io.EOF {
		err = nil
		if line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	s.line++
	s.offset += int64(n)
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, err
}

// next returns the next record, io.EOF after the last.
func (s *csvScanner) next() ([]string, error) {
	var line []byte
	var err error
	for err == nil {
		line, err = s.readLine()
		if err == nil && len(line) == lengthNL(line) {
			continue // an empty line
		}
		break
	}
	if err == io.EOF {
		return nil, err
	}
	s.recLine = s.line
	if err == nil && bytes.IndexByte(line, '"') < 0 {
		s.split(line[:len(line)-lengthNL(line)])
	} else if err = s.quoted(line, err); err != nil {
		return nil, err
	}
	if s.nfields == 0 {
		s.nfields = len(s.fields)
	} else if len(s.fields) != s.nfields {
		return nil, &csv.ParseError{StartLine: s.recLine, Line: s.recLine, Column: 1, Err: csv.ErrFieldCount}
	}
	return s.fields, nil
}

// split cuts a line without quotes at the delimiters.
func (s *csvScanner) split(line []byte) {
	s.fields = s.fields[:0]
	if len(s.comma) == 1 {
		c := s.comma[0]
		for {
			i := bytes.IndexByte(line, c)
			if i < 0 {
				s.fields = append(s.fields, view(line))
				return
			}
			s.fields = append(s.fields, view(line[:i]))
			line = line[i+1:]
		}
	}
	for {
		i := bytes.Index(line, s.comma)
		if i < 0 {
			s.fields = append(s.fields, view(line))
			return
		}
		s.fields = append(s.fields, view(line[:i]))
		line = line[i+len(s.comma):]
	}
}

// quoted reads a record with a quote in its first line the way
// encoding/csv does, unescaping into recBuf.
func (s *csvScanner) quoted(line []byte, errRead error) error {
	s.recBuf, s.ends, s.raw = s.recBuf[:0], s.ends[:0], append(s.raw[:0], line...)
	malformed := false
parseField:
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.Index(line, s.comma)
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-lengthNL(field)]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				malformed = true
				break parseField
			}
			s.recBuf = append(s.recBuf, field...)
			s.ends = append(s.ends, len(s.recBuf))
			if i >= 0 {
				line = line[i+len(s.comma):]
				continue parseField
			}
			break parseField
		}
		line = line[1:]
		for {
			i := bytes.IndexByte(line, '"')
			switch {
			case i >= 0:
				s.recBuf = append(s.recBuf, line[:i]...)
				line = line[i+1:]
				switch {
				case len(line) > 0 && line[0] == '"':
					s.recBuf = append(s.recBuf, '"')
					line = line[1:]
				case bytes.HasPrefix(line, s.comma):
					line = line[len(s.comma):]
					s.ends = append(s.ends, len(s.recBuf))
					continue parseField
				case lengthNL(line) == len(line):
					s.ends = append(s.ends, len(s.recBuf))
					break parseField
				default:
					malformed = true
					break parseField
				}
			case len(line) > 0:
				s.recBuf = append(s.recBuf, line...)
				if errRead != nil {
					break parseField
				}
				line, errRead = s.readLine()
				s.raw = append(s.raw, line...)
				if errRead == io.EOF {
					errRead = nil
				}
			default:
				if errRead == nil {
					malformed = true
					break parseField
				}
				s.ends = append(s.ends, len(s.recBuf))
				break parseField
			}
		}
	}
	if errRead != nil {
		return errRead
	}
	if malformed {
		return s.csvError()
	}
	s.fields = s.fields[:0]
	prev := 0
	for _, end := range s.ends {
		s.fields = append(s.fields, view(s.recBuf[prev:end]))
		prev = end
	}
	return nil
}

// csvError has encoding/csv read the malformed record's lines, which it
// stops reading where it finds the fault, and returns its error with the
// line numbers of the file.
func (s *csvScanner) csvError() error {
	r := csv.NewReader(bytes.NewReader(s.raw))
	r.Comma, _ = utf8.DecodeRune(s.comma)
	r.FieldsPerRecord = -1
	_, err := r.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		pe.StartLine += s.recLine - 1
		pe.Line += s.recLine - 1
		return pe
	}
	return fmt.Errorf("record on line %d: malformed quotes", s.recLine)
}

// lengthNL is the length of a line's trailing \n.
func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}

// view is b as a string without a copy; it changes when b does, so the
// plan copies what it keeps.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
