package forwarder

import (
	"bytes"
	"strings"
	"testing"
)

func TestMainRefusesBadInput(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(nil, strings.NewReader("{not json"), &out, &errOut); code != 1 {
		t.Errorf("bad configuration: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "nettune-forwarder: read the configuration from stdin") {
		t.Errorf("stderr: %q", errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q, want nothing", out.String())
	}
	errOut.Reset()
	if code := Main([]string{"extra"}, strings.NewReader("{}"), &out, &errOut); code != 2 {
		t.Errorf("an argument: exit %d, want 2", code)
	}
}
