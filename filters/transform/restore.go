package transform

// maxTokenLen bounds how much of a chunk's tail is held back as a
// possibly split token: "[" + the longest class + "_" + digits + "]".
const maxTokenLen = 40

// Restorer puts the caller's own values back in place of the tokens the
// request was given, across a response delivered in chunks: a token split
// between chunks is held back until it completes. Only tokens in the vault
// are expanded; anything else that looks like a token passes unchanged.
type Restorer struct {
	vault *Vault
	// escapeJSON writes values escaped for a JSON string (JSON and SSE
	// bodies): a restored value must not break the document.
	escapeJSON bool
	held       []byte
}

// NewRestorer returns a restorer for one response.
func NewRestorer(v *Vault, escapeJSON bool) *Restorer {
	return &Restorer{vault: v, escapeJSON: escapeJSON}
}

// Write restores tokens in chunk and returns what can be sent now.
func (r *Restorer) Write(chunk []byte) []byte {
	if r.vault.Len() == 0 && len(r.held) == 0 {
		return chunk // nothing was tokenized: nothing to hold back
	}
	buf := append(r.held, chunk...)
	r.held = nil
	out := make([]byte, 0, len(buf))
	i := 0
	for i < len(buf) {
		c := buf[i]
		if c != '[' {
			out = append(out, c)
			i++
			continue
		}
		end := -1
		for j := i + 1; j < len(buf) && j-i < maxTokenLen; j++ {
			if buf[j] == ']' {
				end = j
				break
			}
			if !isTokenByte(buf[j]) {
				break
			}
		}
		if end < 0 {
			// Possibly the start of a token the next chunk completes.
			if len(buf)-i < maxTokenLen && allTokenBytes(buf[i+1:]) {
				r.held = append(r.held, buf[i:]...)
				return out
			}
			out = append(out, c)
			i++
			continue
		}
		tok := string(buf[i : end+1])
		if v, ok := r.vault.Value(tok); ok {
			if r.escapeJSON {
				out = AppendJSONString(out, v)
			} else {
				out = append(out, v...)
			}
		} else {
			out = append(out, tok...)
		}
		i = end + 1
	}
	return out
}

// Flush returns whatever is still held at the end of the response.
func (r *Restorer) Flush() []byte {
	h := r.held
	r.held = nil
	return h
}

func isTokenByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func allTokenBytes(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}
