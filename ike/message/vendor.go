package message

// VendorID is the Vendor ID payload (RFC 7296 §3.12): an opaque
// identifier, typically a hash, that the receiver may recognise.
type VendorID struct {
	Data []byte
}

func (*VendorID) Type() PayloadType { return PayloadVendorID }

func (v *VendorID) Encode(b []byte) ([]byte, error) { return append(b, v.Data...), nil }

func (v *VendorID) Decode(body []byte) error {
	v.Data = body
	return nil
}
