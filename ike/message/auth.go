package message

import "fmt"

// AuthMethod is the AUTH payload's Auth Method (RFC 7296 §3.8, the IANA
// "IKEv2 Authentication Method" registry).
type AuthMethod uint8

const (
	AuthRSASignature     AuthMethod = 1 // RSASSA-PKCS1-v1_5 with SHA-1
	AuthSharedKeyMIC     AuthMethod = 2 // PSK
	AuthDSSSignature     AuthMethod = 3
	AuthECDSASHA256P256  AuthMethod = 9  // RFC 4754
	AuthECDSASHA384P384  AuthMethod = 10 // RFC 4754
	AuthECDSASHA512P521  AuthMethod = 11 // RFC 4754
	AuthGenericPassword  AuthMethod = 12 // RFC 6467
	AuthNull             AuthMethod = 13 // RFC 7619
	AuthDigitalSignature AuthMethod = 14 // RFC 7427
)

var authMethodNames = map[AuthMethod]string{
	AuthRSASignature: "RSA_SIG", AuthSharedKeyMIC: "PSK", AuthDSSSignature: "DSS_SIG",
	AuthECDSASHA256P256: "ECDSA_256", AuthECDSASHA384P384: "ECDSA_384",
	AuthECDSASHA512P521: "ECDSA_521", AuthGenericPassword: "GSPM", AuthNull: "NULL",
	AuthDigitalSignature: "DIGITAL_SIGNATURE",
}

func (m AuthMethod) String() string {
	if name, ok := authMethodNames[m]; ok {
		return name
	}
	return fmt.Sprintf("AUTH_METHOD(%d)", uint8(m))
}

// Auth is the Authentication payload (RFC 7296 §3.8):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Auth Method   |                RESERVED                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                      Authentication Data                      ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// With AuthDigitalSignature, Data is itself structured (RFC 7427 §3):
//
//	| ASN.1 Length  | AlgorithmIdentifier (ASN.1 Length octets) | Signature |
//
// which SignatureData and NewDigitalSignatureAuth take apart and build;
// the AlgorithmIdentifier DER is carried, not interpreted. Decode leaves
// that structure to SignatureData: a broken signature blob is an
// authentication failure for the exchange to report, not a malformed
// message.
type Auth struct {
	Method AuthMethod
	Data   []byte
}

const authHeaderLen = 4

func (*Auth) Type() PayloadType { return PayloadAUTH }

func (a *Auth) Encode(b []byte) ([]byte, error) {
	b = append(b, byte(a.Method), 0, 0, 0)
	return append(b, a.Data...), nil
}

func (a *Auth) Decode(body []byte) error {
	if len(body) < authHeaderLen {
		return truncated("AUTH payload of %d bytes", len(body))
	}
	a.Method, a.Data = AuthMethod(body[0]), body[authHeaderLen:]
	return nil
}

// SignatureData splits RFC 7427 authentication data into the DER
// AlgorithmIdentifier and the signature.
func (a *Auth) SignatureData() (algorithmIdentifier, signature []byte, err error) {
	if a.Method != AuthDigitalSignature {
		return nil, nil, fmt.Errorf("%w: auth method %v is not %v", ErrMalformed, a.Method, AuthDigitalSignature)
	}
	return splitDigitalSignature(a.Data)
}

func splitDigitalSignature(data []byte) (algorithmIdentifier, signature []byte, err error) {
	if len(data) < 1 {
		return nil, nil, truncated("digital signature without ASN.1 Length")
	}
	n := int(data[0])
	if n == 0 {
		return nil, nil, malformed("digital signature with an empty AlgorithmIdentifier")
	}
	if 1+n > len(data) {
		return nil, nil, truncated("AlgorithmIdentifier of %d bytes, %d left", n, len(data)-1)
	}
	return data[1 : 1+n : 1+n], data[1+n:], nil
}

// NewDigitalSignatureAuth builds an RFC 7427 AUTH payload. The
// AlgorithmIdentifier must fit the one-octet ASN.1 Length.
func NewDigitalSignatureAuth(algorithmIdentifier, signature []byte) (*Auth, error) {
	if len(algorithmIdentifier) == 0 || len(algorithmIdentifier) > 0xff {
		return nil, cannotEncode("AlgorithmIdentifier of %d bytes", len(algorithmIdentifier))
	}
	data := make([]byte, 0, 1+len(algorithmIdentifier)+len(signature))
	data = append(data, byte(len(algorithmIdentifier)))
	data = append(append(data, algorithmIdentifier...), signature...)
	return &Auth{Method: AuthDigitalSignature, Data: data}, nil
}
