package ike

import (
	"strings"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/ike/message"
)

// ikeProposal encodes an IKE suite as a proposal substructure (RFC 7296
// §3.3.1): ENCR (with its Key Length attribute), PRF, INTEG unless AEAD, D-H.
func ikeProposal(num uint8, s crypto.IKESuite) message.Proposal {
	p := message.Proposal{Number: num, Protocol: message.ProtocolIKE}
	p.Transforms = append(p.Transforms, encrTransform(s.EncrID, s.EncrKeyBits),
		message.Transform{Type: message.TransformPRF, ID: uint16(s.PRF)})
	if !s.AEAD() {
		p.Transforms = append(p.Transforms, message.Transform{Type: message.TransformInteg, ID: s.IntegID})
	}
	p.Transforms = append(p.Transforms, message.Transform{Type: message.TransformDH, ID: s.DHGroup})
	return p
}

// espProposal encodes an ESP suite with our inbound SPI (RFC 7296
// §3.3.1). With pfs, a suite's D-H group goes in as a D-H transform, which
// asks for a KE payload in CREATE_CHILD_SA (§1.3.1). IKE_AUTH's CHILD_SA
// reuses IKE_SA_INIT's key exchange (§1.2) and leaves it out, as
// strongSwan does.
func espProposal(num uint8, s crypto.Suite, spi uint32, pfs bool) message.Proposal {
	p := message.Proposal{Number: num, Protocol: message.ProtocolESP,
		SPI: []byte{byte(spi >> 24), byte(spi >> 16), byte(spi >> 8), byte(spi)}}
	p.Transforms = append(p.Transforms, encrTransform(s.EncrID, s.EncrKeyBits))
	if s.IntegID != crypto.AuthNone {
		p.Transforms = append(p.Transforms, message.Transform{Type: message.TransformInteg, ID: s.IntegID})
	}
	if pfs && s.DHGroup != crypto.DHGroupNone {
		p.Transforms = append(p.Transforms, message.Transform{Type: message.TransformDH, ID: s.DHGroup})
	}
	esn := message.ESNNo
	if s.ESN {
		esn = message.ESNYes
	}
	p.Transforms = append(p.Transforms, message.Transform{Type: message.TransformESN, ID: esn})
	return p
}

// withoutDH drops a proposal's D-H transforms, which IKE_AUTH ignores.
func withoutDH(p message.Proposal) message.Proposal {
	q := p
	q.Transforms = nil
	for _, t := range p.Transforms {
		if t.Type != message.TransformDH {
			q.Transforms = append(q.Transforms, t)
		}
	}
	return q
}

func encrTransform(id uint16, bits int) message.Transform {
	t := message.Transform{Type: message.TransformEncr, ID: id}
	if bits > 0 {
		t.Attributes = []message.Attribute{message.KeyLength(uint16(bits))}
	}
	return t
}

// offers reports whether the proposal lists transform want among those of
// its type (RFC 7296 §3.3.6: each type's transforms are alternatives).
func offers(p message.Proposal, want message.Transform) bool {
	wantBits, _ := want.KeyLength()
	for _, t := range p.Transforms {
		if t.Type != want.Type || t.ID != want.ID {
			continue
		}
		if bits, _ := t.KeyLength(); bits == wantBits {
			return true
		}
	}
	return false
}

// hasType reports whether the proposal has any transform of type tt.
func hasType(p message.Proposal, tt message.TransformType) bool {
	for _, t := range p.Transforms {
		if t.Type == tt {
			return true
		}
	}
	return false
}

// covers reports whether the peer's proposal p offers every transform of
// ours, and no transform type that ours lacks (other than INTEG "none" for
// an AEAD and ESN "no").
func covers(p message.Proposal, ours message.Proposal) bool {
	if p.Protocol != ours.Protocol {
		return false
	}
	for _, t := range ours.Transforms {
		if !offers(p, t) {
			return false
		}
	}
	for _, tt := range []message.TransformType{message.TransformInteg, message.TransformDH, message.TransformESN} {
		if hasType(ours, tt) || !hasType(p, tt) {
			continue
		}
		// Ours omits the type: acceptable only if the peer offers "none".
		if !offers(p, message.Transform{Type: tt, ID: 0}) {
			return false
		}
	}
	return true
}

// selectIKE picks the first of our suites (our preference, as strongSwan's
// prefer_configured_proposals) that one of the peer's proposals covers.
func selectIKE(ours []crypto.IKESuite, theirs []message.Proposal) (crypto.IKESuite, message.Proposal, bool) {
	for _, s := range ours {
		for _, p := range theirs {
			if covers(p, ikeProposal(p.Number, s)) {
				return s, ikeProposal(p.Number, s), true
			}
		}
	}
	return crypto.IKESuite{}, message.Proposal{}, false
}

// selectESP is selectIKE for ESP proposals; the chosen proposal carries the
// peer's SPI, which the caller replaces with its own. Without pfs (IKE_AUTH)
// D-H transforms play no part and the suite comes back without a group.
func selectESP(ours []crypto.Suite, theirs []message.Proposal, pfs bool) (crypto.Suite, message.Proposal, bool) {
	for _, s := range ours {
		if !pfs {
			s.DHGroup = crypto.DHGroupNone
		}
		for _, p := range theirs {
			if !pfs {
				p = withoutDH(p)
			}
			if p.Protocol == message.ProtocolESP && covers(p, espProposal(p.Number, s, 0, pfs)) {
				return s, p, true
			}
		}
	}
	return crypto.Suite{}, message.Proposal{}, false
}

func proposalsString(ps []message.Proposal) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}
