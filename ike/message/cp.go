package message

import (
	"encoding/binary"
	"fmt"
)

// CFGType is a Configuration payload's CFG Type (RFC 7296 §3.15).
type CFGType uint8

const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

func (t CFGType) String() string {
	switch t {
	case CFGRequest:
		return "CFG_REQUEST"
	case CFGReply:
		return "CFG_REPLY"
	case CFGSet:
		return "CFG_SET"
	case CFGAck:
		return "CFG_ACK"
	}
	return fmt.Sprintf("CFG_TYPE(%d)", uint8(t))
}

// CPAttributeType is a configuration attribute's type (RFC 7296 §3.15.1
// and the IANA "IKEv2 Configuration Payload Attribute Types" registry).
type CPAttributeType uint16

const (
	InternalIP4Address    CPAttributeType = 1
	InternalIP4Netmask    CPAttributeType = 2
	InternalIP4DNS        CPAttributeType = 3
	InternalIP4NBNS       CPAttributeType = 4
	InternalIP4DHCP       CPAttributeType = 6
	ApplicationVersion    CPAttributeType = 7
	InternalIP6Address    CPAttributeType = 8
	InternalIP6DNS        CPAttributeType = 10
	InternalIP6DHCP       CPAttributeType = 12
	InternalIP4Subnet     CPAttributeType = 13
	SupportedAttributes   CPAttributeType = 14
	InternalIP6Subnet     CPAttributeType = 15
	MIP6HomePrefix        CPAttributeType = 16 // RFC 5026
	InternalIP6Link       CPAttributeType = 17 // RFC 5739
	InternalIP6Prefix     CPAttributeType = 18 // RFC 5739
	HomeAgentAddress      CPAttributeType = 19 // 3GPP TS 24.302
	PCSCFIP4Address       CPAttributeType = 20 // RFC 7651
	PCSCFIP6Address       CPAttributeType = 21 // RFC 7651
	FTTKAT                CPAttributeType = 22 // 3GPP TS 24.302
	ExternalSourceIP4NAT  CPAttributeType = 23 // 3GPP TS 24.302
	TimeoutPeriodLiveness CPAttributeType = 24 // 3GPP TS 24.302
	InternalDNSDomain     CPAttributeType = 25 // RFC 8598
	InternalDNSSECTA      CPAttributeType = 26 // RFC 8598
)

var cpAttributeNames = map[CPAttributeType]string{
	InternalIP4Address: "INTERNAL_IP4_ADDRESS", InternalIP4Netmask: "INTERNAL_IP4_NETMASK",
	InternalIP4DNS: "INTERNAL_IP4_DNS", InternalIP4NBNS: "INTERNAL_IP4_NBNS",
	InternalIP4DHCP: "INTERNAL_IP4_DHCP", ApplicationVersion: "APPLICATION_VERSION",
	InternalIP6Address: "INTERNAL_IP6_ADDRESS", InternalIP6DNS: "INTERNAL_IP6_DNS",
	InternalIP6DHCP: "INTERNAL_IP6_DHCP", InternalIP4Subnet: "INTERNAL_IP4_SUBNET",
	SupportedAttributes: "SUPPORTED_ATTRIBUTES", InternalIP6Subnet: "INTERNAL_IP6_SUBNET",
	MIP6HomePrefix: "MIP6_HOME_PREFIX", InternalIP6Link: "INTERNAL_IP6_LINK",
	InternalIP6Prefix: "INTERNAL_IP6_PREFIX", HomeAgentAddress: "HOME_AGENT_ADDRESS",
	PCSCFIP4Address: "P_CSCF_IP4_ADDRESS", PCSCFIP6Address: "P_CSCF_IP6_ADDRESS",
	FTTKAT: "FTT_KAT", ExternalSourceIP4NAT: "EXTERNAL_SOURCE_IP4_NAT_INFO",
	TimeoutPeriodLiveness: "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK",
	InternalDNSDomain:     "INTERNAL_DNS_DOMAIN", InternalDNSSECTA: "INTERNAL_DNSSEC_TA",
}

func (t CPAttributeType) String() string {
	if name, ok := cpAttributeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("CP_ATTRIBUTE(%d)", uint16(t))
}

// cpAttributeLen is the value length of the attributes whose length RFC
// 7296 §3.15.1 fixes; each may also be empty (a request for a value).
var cpAttributeLen = map[CPAttributeType]int{
	InternalIP4Address: 4, InternalIP4Netmask: 4, InternalIP4DNS: 4, InternalIP4NBNS: 4,
	InternalIP4DHCP: 4, InternalIP6Address: 17, InternalIP6DNS: 16, InternalIP6DHCP: 16,
	InternalIP4Subnet: 8, InternalIP6Subnet: 17, PCSCFIP4Address: 4, PCSCFIP6Address: 16,
}

// CPAttribute is one configuration attribute (RFC 7296 §3.15.1):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|         Attribute Type      |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	~                             Value                             ~
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The reserved bit R is sent as zero and ignored on receipt. An
// INTERNAL_IP6_ADDRESS or _SUBNET value is the address followed by a
// one-octet prefix length.
type CPAttribute struct {
	Type  CPAttributeType
	Value []byte
}

const (
	cpHeaderLen     = 4
	cpAttrHeaderLen = 4
	cpReservedBit   = 0x8000
)

// CP is the Configuration payload (RFC 7296 §3.15):
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   CFG Type    |                    RESERVED                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Configuration Attributes                    ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type CP struct {
	CFGType    CFGType
	Attributes []CPAttribute
}

func (*CP) Type() PayloadType { return PayloadCP }

func (cp *CP) Encode(b []byte) ([]byte, error) {
	b = append(b, byte(cp.CFGType), 0, 0, 0)
	for _, a := range cp.Attributes {
		if a.Type&cpReservedBit != 0 {
			return nil, cannotEncode("configuration attribute type %d does not fit 15 bits", uint16(a.Type))
		}
		if err := checkCPAttribute(a); err != nil {
			return nil, cannotEncode("%v", err)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(a.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}

func (cp *CP) Decode(body []byte) error {
	if len(body) < cpHeaderLen {
		return truncated("CP payload of %d bytes", len(body))
	}
	cp.CFGType = CFGType(body[0])
	cp.Attributes = nil
	body = body[cpHeaderLen:]
	for len(body) > 0 {
		if len(body) < cpAttrHeaderLen {
			return truncated("configuration attribute header needs %d bytes, %d left", cpAttrHeaderLen, len(body))
		}
		a := CPAttribute{Type: CPAttributeType(binary.BigEndian.Uint16(body) &^ cpReservedBit)}
		n := int(binary.BigEndian.Uint16(body[2:]))
		if cpAttrHeaderLen+n > len(body) {
			return truncated("%v of %d bytes, %d left", a.Type, n, len(body)-cpAttrHeaderLen)
		}
		a.Value = body[cpAttrHeaderLen : cpAttrHeaderLen+n : cpAttrHeaderLen+n]
		if err := checkCPAttribute(a); err != nil {
			return err
		}
		cp.Attributes = append(cp.Attributes, a)
		body = body[cpAttrHeaderLen+n:]
	}
	return nil
}

func checkCPAttribute(a CPAttribute) error {
	if len(a.Value) > maxPayloadLen {
		return malformed("%v of %d bytes", a.Type, len(a.Value))
	}
	if want, ok := cpAttributeLen[a.Type]; ok && len(a.Value) != 0 && len(a.Value) != want {
		return malformed("%v of %d bytes, want 0 or %d", a.Type, len(a.Value), want)
	}
	if a.Type == SupportedAttributes && len(a.Value)%2 != 0 {
		return malformed("%v of %d bytes is not a list of types", a.Type, len(a.Value))
	}
	return nil
}
