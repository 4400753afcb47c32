package message

import "encoding/binary"

// Delete is the Delete payload (RFC 7296 §3.11):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Protocol ID   |   SPI Size    |          Num of SPIs          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~               Security Parameter Index(es) (SPI)              ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Deleting the IKE SA carries protocol IKE with SPI Size 0 and no SPIs
// (the SA is the one the message belongs to); deleting Child SAs carries
// AH or ESP with the 4-byte inbound SPIs of the sender. Any other
// protocol or size is malformed.
type Delete struct {
	Protocol ProtocolID
	SPIs     []uint32
}

const deleteHeaderLen = 4

func (*Delete) Type() PayloadType { return PayloadDelete }

func (d *Delete) Encode(b []byte) ([]byte, error) {
	switch d.Protocol {
	case ProtocolIKE:
		if len(d.SPIs) != 0 {
			return nil, cannotEncode("IKE delete with %d SPIs", len(d.SPIs))
		}
		return append(b, byte(ProtocolIKE), 0, 0, 0), nil
	case ProtocolAH, ProtocolESP:
		if len(d.SPIs) > 0xffff {
			return nil, cannotEncode("delete of %d SPIs", len(d.SPIs))
		}
		b = append(b, byte(d.Protocol), 4)
		b = binary.BigEndian.AppendUint16(b, uint16(len(d.SPIs)))
		for _, spi := range d.SPIs {
			b = binary.BigEndian.AppendUint32(b, spi)
		}
		return b, nil
	}
	return nil, cannotEncode("delete for protocol %v", d.Protocol)
}

func (d *Delete) Decode(body []byte) error {
	if len(body) < deleteHeaderLen {
		return truncated("delete payload of %d bytes", len(body))
	}
	d.Protocol = ProtocolID(body[0])
	spiSize, count := int(body[1]), int(binary.BigEndian.Uint16(body[2:]))
	spis := body[deleteHeaderLen:]
	d.SPIs = nil
	switch d.Protocol {
	case ProtocolIKE:
		if spiSize != 0 {
			return malformed("IKE delete with a %d-byte SPI, want 0", spiSize)
		}
		if count != 0 || len(spis) != 0 {
			return malformed("IKE delete with %d SPIs in %d bytes", count, len(spis))
		}
		return nil
	case ProtocolAH, ProtocolESP:
		if spiSize != 4 {
			return malformed("%v delete with a %d-byte SPI, want 4", d.Protocol, spiSize)
		}
	default:
		return malformed("delete for protocol %v", d.Protocol)
	}
	if len(spis) != count*4 {
		return malformed("%v delete says %d SPIs, holds %d bytes", d.Protocol, count, len(spis))
	}
	d.SPIs = make([]uint32, count)
	for i := range d.SPIs {
		d.SPIs[i] = binary.BigEndian.Uint32(spis[4*i:])
	}
	return nil
}
