package config

import (
	"fmt"
	"net/url"

	"github.com/espd/espd/internal/swanctl"
)

// Authority is one authorities.<name> section: a certification authority
// with where to find its revocation information (swanctl.conf(5),
// authorities). espd keeps the names and URIs; it does not fetch CRLs or
// ask OCSP responders yet.
type Authority struct {
	Name string
	Pos  swanctl.Pos
	// CACert is the CA certificate, relative to swanctl's x509ca directory
	// or absolute, as swanctl reads it; File is an absolute path that the
	// daemon reads itself. Exactly one of them is set.
	CACert, File string
	// CRLURIs are CRL distribution points (http, ldap or file URIs),
	// OCSPURIs OCSP responders.
	CRLURIs, OCSPURIs []string
}

func (sd *sharedDecoder) authorities(s *swanctl.Section) []Authority {
	r := sd.reader(s, "authorities")
	defer r.done()
	var list []Authority
	for _, sub := range r.s.Sections {
		r.sub(sub.Name)
		if a, ok := sd.authority(sub); ok {
			list = append(list, a)
		}
	}
	return list
}

func (sd *sharedDecoder) authority(s *swanctl.Section) (Authority, bool) {
	errsBefore := len(sd.errs)
	path := "authorities." + s.Name
	r := sd.reader(s, path)
	defer r.done()
	a := Authority{Name: s.Name, Pos: s.Pos}
	cacert, file := r.key("cacert"), r.key("file")
	switch {
	case cacert != nil && file != nil:
		r.fail(file, "set cacert or file, not both (swanctl.conf(5): one of cacert, file or handle per section)")
	case cacert != nil:
		a.CACert = cacert.Value
	case file != nil:
		if len(file.Value) == 0 || file.Value[0] != '/' {
			r.fail(file, fmt.Sprintf("%q is not an absolute path; charon reads file as it is, so give the full path (or use cacert for a file in swanctl's x509ca directory)", file.Value))
		}
		a.File = file.Value
	default:
		reason := "required: the CA certificate, as cacert (in swanctl's x509ca directory) or file (an absolute path)"
		if r.s.Key("handle") != nil {
			reason += "; certificates on a token (handle) are not supported by espd"
		}
		r.failMissing("cacert", reason)
	}
	a.CRLURIs = r.uris("crl_uris")
	a.OCSPURIs = r.uris("ocsp_uris")
	r.unsupported("handle", "slot", "module", "cert_uri_base")
	return a, len(sd.errs) == errsBefore
}

// uris reads a comma-separated list of absolute URIs.
func (r *reader) uris(name string) []string {
	kv, items := r.list(name)
	for _, item := range items {
		u, err := url.Parse(item)
		if err != nil || u.Scheme == "" {
			r.fail(kv, fmt.Sprintf("%q is not an absolute URI (such as http://crl.example/ca.crl)", item))
			return nil
		}
	}
	return items
}
