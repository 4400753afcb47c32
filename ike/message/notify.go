package message

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
)

// NotifyType is a Notify Message Type (RFC 7296 §3.10.1 and the IANA
// "IKEv2 Notify Message Types" registries). Types below 16384 report
// errors, types from 16384 on report status.
type NotifyType uint16

// Error types (RFC 7296 §3.10.1 unless noted).
const (
	NotifyUnsupportedCriticalPayload NotifyType = 1
	NotifyInvalidIKESPI              NotifyType = 4
	NotifyInvalidMajorVersion        NotifyType = 5
	NotifyInvalidSyntax              NotifyType = 7
	NotifyInvalidMessageID           NotifyType = 9
	NotifyInvalidSPI                 NotifyType = 11
	NotifyNoProposalChosen           NotifyType = 14
	NotifyInvalidKEPayload           NotifyType = 17
	NotifyAuthenticationFailed       NotifyType = 24
	NotifySinglePairRequired         NotifyType = 34
	NotifyNoAdditionalSAs            NotifyType = 35
	NotifyInternalAddressFailure     NotifyType = 36
	NotifyFailedCPRequired           NotifyType = 37
	NotifyTSUnacceptable             NotifyType = 38
	NotifyInvalidSelectors           NotifyType = 39
	NotifyUnacceptableAddresses      NotifyType = 40 // RFC 4555
	NotifyUnexpectedNATDetected      NotifyType = 41 // RFC 4555
	NotifyUseAssignedHoA             NotifyType = 42 // RFC 5026
	NotifyTemporaryFailure           NotifyType = 43
	NotifyChildSANotFound            NotifyType = 44
	NotifyInvalidGroupID             NotifyType = 45 // G-IKEv2
	NotifyAuthorizationFailed        NotifyType = 46 // G-IKEv2
	NotifyStateNotFound              NotifyType = 47 // RFC 9370
	NotifyTSMaxQueue                 NotifyType = 48 // RFC 9611

	// NotifyStatusFirst is the first status type; every type below it is
	// an error.
	NotifyStatusFirst NotifyType = 16384
)

// Status types (RFC 7296 §3.10.1 unless noted).
const (
	NotifyInitialContact                  NotifyType = 16384
	NotifySetWindowSize                   NotifyType = 16385
	NotifyAdditionalTSPossible            NotifyType = 16386
	NotifyIPCompSupported                 NotifyType = 16387
	NotifyNATDetectionSourceIP            NotifyType = 16388
	NotifyNATDetectionDestinationIP       NotifyType = 16389
	NotifyCookie                          NotifyType = 16390
	NotifyUseTransportMode                NotifyType = 16391
	NotifyHTTPCertLookupSupported         NotifyType = 16392
	NotifyRekeySA                         NotifyType = 16393
	NotifyESPTFCPaddingNotSupported       NotifyType = 16394
	NotifyNonFirstFragmentsAlso           NotifyType = 16395
	NotifyMOBIKESupported                 NotifyType = 16396 // RFC 4555
	NotifyAdditionalIP4Address            NotifyType = 16397 // RFC 4555
	NotifyAdditionalIP6Address            NotifyType = 16398 // RFC 4555
	NotifyNoAdditionalAddresses           NotifyType = 16399 // RFC 4555
	NotifyUpdateSAAddresses               NotifyType = 16400 // RFC 4555
	NotifyCookie2                         NotifyType = 16401 // RFC 4555
	NotifyNoNATsAllowed                   NotifyType = 16402 // RFC 4555
	NotifyAuthLifetime                    NotifyType = 16403 // RFC 4478
	NotifyMultipleAuthSupported           NotifyType = 16404 // RFC 4739
	NotifyAnotherAuthFollows              NotifyType = 16405 // RFC 4739
	NotifyRedirectSupported               NotifyType = 16406 // RFC 5685
	NotifyRedirect                        NotifyType = 16407 // RFC 5685
	NotifyRedirectedFrom                  NotifyType = 16408 // RFC 5685
	NotifyTicketLTOpaque                  NotifyType = 16409 // RFC 5723
	NotifyTicketRequest                   NotifyType = 16410 // RFC 5723
	NotifyTicketAck                       NotifyType = 16411 // RFC 5723
	NotifyTicketNack                      NotifyType = 16412 // RFC 5723
	NotifyTicketOpaque                    NotifyType = 16413 // RFC 5723
	NotifyLinkID                          NotifyType = 16414 // RFC 5739
	NotifyUseWESPMode                     NotifyType = 16415 // RFC 5840
	NotifyROHCSupported                   NotifyType = 16416 // RFC 5857
	NotifyEAPOnlyAuthentication           NotifyType = 16417 // RFC 5998
	NotifyChildlessIKEv2Supported         NotifyType = 16418 // RFC 6023
	NotifyQuickCrashDetection             NotifyType = 16419 // RFC 6290
	NotifyIKEv2MessageIDSyncSupported     NotifyType = 16420 // RFC 6311
	NotifyIPsecReplayCounterSyncSupported NotifyType = 16421 // RFC 6311
	NotifyIKEv2MessageIDSync              NotifyType = 16422 // RFC 6311
	NotifyIPsecReplayCounterSync          NotifyType = 16423 // RFC 6311
	NotifySecurePasswordMethods           NotifyType = 16424 // RFC 6467
	NotifyPSKPersist                      NotifyType = 16425 // RFC 6631
	NotifyPSKConfirm                      NotifyType = 16426 // RFC 6631
	NotifyERXSupported                    NotifyType = 16427 // RFC 6867
	NotifyIFOMCapability                  NotifyType = 16428 // 3GPP TS 24.303
	NotifySenderRequestID                 NotifyType = 16429 // G-IKEv2
	NotifyIKEv2FragmentationSupported     NotifyType = 16430 // RFC 7383
	NotifySignatureHashAlgorithms         NotifyType = 16431 // RFC 7427
	NotifyCloneIKESASupported             NotifyType = 16432 // RFC 7791
	NotifyCloneIKESA                      NotifyType = 16433 // RFC 7791
	NotifyPuzzle                          NotifyType = 16434 // RFC 8019
	NotifyUsePPK                          NotifyType = 16435 // RFC 8784
	NotifyPPKIdentity                     NotifyType = 16436 // RFC 8784
	NotifyNoPPKAuth                       NotifyType = 16437 // RFC 8784
	NotifyIntermediateExchangeSupported   NotifyType = 16438 // RFC 9242
	NotifyIP4Allowed                      NotifyType = 16439 // RFC 8983
	NotifyIP6Allowed                      NotifyType = 16440 // RFC 8983
	NotifyAdditionalKeyExchange           NotifyType = 16441 // RFC 9370
	NotifyUseAggfrag                      NotifyType = 16442 // RFC 9347
	NotifySupportedAuthMethods            NotifyType = 16443 // RFC 9593
	NotifySAResourceInfo                  NotifyType = 16444 // RFC 9611
)

var notifyNames = map[NotifyType]string{
	NotifyUnsupportedCriticalPayload: "UNSUPPORTED_CRITICAL_PAYLOAD",
	NotifyInvalidIKESPI:              "INVALID_IKE_SPI",
	NotifyInvalidMajorVersion:        "INVALID_MAJOR_VERSION",
	NotifyInvalidSyntax:              "INVALID_SYNTAX",
	NotifyInvalidMessageID:           "INVALID_MESSAGE_ID",
	NotifyInvalidSPI:                 "INVALID_SPI",
	NotifyNoProposalChosen:           "NO_PROPOSAL_CHOSEN",
	NotifyInvalidKEPayload:           "INVALID_KE_PAYLOAD",
	NotifyAuthenticationFailed:       "AUTHENTICATION_FAILED",
	NotifySinglePairRequired:         "SINGLE_PAIR_REQUIRED",
	NotifyNoAdditionalSAs:            "NO_ADDITIONAL_SAS",
	NotifyInternalAddressFailure:     "INTERNAL_ADDRESS_FAILURE",
	NotifyFailedCPRequired:           "FAILED_CP_REQUIRED",
	NotifyTSUnacceptable:             "TS_UNACCEPTABLE",
	NotifyInvalidSelectors:           "INVALID_SELECTORS",
	NotifyUnacceptableAddresses:      "UNACCEPTABLE_ADDRESSES",
	NotifyUnexpectedNATDetected:      "UNEXPECTED_NAT_DETECTED",
	NotifyUseAssignedHoA:             "USE_ASSIGNED_HoA",
	NotifyTemporaryFailure:           "TEMPORARY_FAILURE",
	NotifyChildSANotFound:            "CHILD_SA_NOT_FOUND",
	NotifyInvalidGroupID:             "INVALID_GROUP_ID",
	NotifyAuthorizationFailed:        "AUTHORIZATION_FAILED",
	NotifyStateNotFound:              "STATE_NOT_FOUND",
	NotifyTSMaxQueue:                 "TS_MAX_QUEUE",

	NotifyInitialContact:                  "INITIAL_CONTACT",
	NotifySetWindowSize:                   "SET_WINDOW_SIZE",
	NotifyAdditionalTSPossible:            "ADDITIONAL_TS_POSSIBLE",
	NotifyIPCompSupported:                 "IPCOMP_SUPPORTED",
	NotifyNATDetectionSourceIP:            "NAT_DETECTION_SOURCE_IP",
	NotifyNATDetectionDestinationIP:       "NAT_DETECTION_DESTINATION_IP",
	NotifyCookie:                          "COOKIE",
	NotifyUseTransportMode:                "USE_TRANSPORT_MODE",
	NotifyHTTPCertLookupSupported:         "HTTP_CERT_LOOKUP_SUPPORTED",
	NotifyRekeySA:                         "REKEY_SA",
	NotifyESPTFCPaddingNotSupported:       "ESP_TFC_PADDING_NOT_SUPPORTED",
	NotifyNonFirstFragmentsAlso:           "NON_FIRST_FRAGMENTS_ALSO",
	NotifyMOBIKESupported:                 "MOBIKE_SUPPORTED",
	NotifyAdditionalIP4Address:            "ADDITIONAL_IP4_ADDRESS",
	NotifyAdditionalIP6Address:            "ADDITIONAL_IP6_ADDRESS",
	NotifyNoAdditionalAddresses:           "NO_ADDITIONAL_ADDRESSES",
	NotifyUpdateSAAddresses:               "UPDATE_SA_ADDRESSES",
	NotifyCookie2:                         "COOKIE2",
	NotifyNoNATsAllowed:                   "NO_NATS_ALLOWED",
	NotifyAuthLifetime:                    "AUTH_LIFETIME",
	NotifyMultipleAuthSupported:           "MULTIPLE_AUTH_SUPPORTED",
	NotifyAnotherAuthFollows:              "ANOTHER_AUTH_FOLLOWS",
	NotifyRedirectSupported:               "REDIRECT_SUPPORTED",
	NotifyRedirect:                        "REDIRECT",
	NotifyRedirectedFrom:                  "REDIRECTED_FROM",
	NotifyTicketLTOpaque:                  "TICKET_LT_OPAQUE",
	NotifyTicketRequest:                   "TICKET_REQUEST",
	NotifyTicketAck:                       "TICKET_ACK",
	NotifyTicketNack:                      "TICKET_NACK",
	NotifyTicketOpaque:                    "TICKET_OPAQUE",
	NotifyLinkID:                          "LINK_ID",
	NotifyUseWESPMode:                     "USE_WESP_MODE",
	NotifyROHCSupported:                   "ROHC_SUPPORTED",
	NotifyEAPOnlyAuthentication:           "EAP_ONLY_AUTHENTICATION",
	NotifyChildlessIKEv2Supported:         "CHILDLESS_IKEV2_SUPPORTED",
	NotifyQuickCrashDetection:             "QUICK_CRASH_DETECTION",
	NotifyIKEv2MessageIDSyncSupported:     "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
	NotifyIPsecReplayCounterSyncSupported: "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
	NotifyIKEv2MessageIDSync:              "IKEV2_MESSAGE_ID_SYNC",
	NotifyIPsecReplayCounterSync:          "IPSEC_REPLAY_COUNTER_SYNC",
	NotifySecurePasswordMethods:           "SECURE_PASSWORD_METHODS",
	NotifyPSKPersist:                      "PSK_PERSIST",
	NotifyPSKConfirm:                      "PSK_CONFIRM",
	NotifyERXSupported:                    "ERX_SUPPORTED",
	NotifyIFOMCapability:                  "IFOM_CAPABILITY",
	NotifySenderRequestID:                 "SENDER_REQUEST_ID",
	NotifyIKEv2FragmentationSupported:     "IKEV2_FRAGMENTATION_SUPPORTED",
	NotifySignatureHashAlgorithms:         "SIGNATURE_HASH_ALGORITHMS",
	NotifyCloneIKESASupported:             "CLONE_IKE_SA_SUPPORTED",
	NotifyCloneIKESA:                      "CLONE_IKE_SA",
	NotifyPuzzle:                          "PUZZLE",
	NotifyUsePPK:                          "USE_PPK",
	NotifyPPKIdentity:                     "PPK_IDENTITY",
	NotifyNoPPKAuth:                       "NO_PPK_AUTH",
	NotifyIntermediateExchangeSupported:   "INTERMEDIATE_EXCHANGE_SUPPORTED",
	NotifyIP4Allowed:                      "IP4_ALLOWED",
	NotifyIP6Allowed:                      "IP6_ALLOWED",
	NotifyAdditionalKeyExchange:           "ADDITIONAL_KEY_EXCHANGE",
	NotifyUseAggfrag:                      "USE_AGGFRAG",
	NotifySupportedAuthMethods:            "SUPPORTED_AUTH_METHODS",
	NotifySAResourceInfo:                  "SA_RESOURCE_INFO",
}

func (t NotifyType) String() string {
	if name, ok := notifyNames[t]; ok {
		return name
	}
	return fmt.Sprintf("NOTIFY(%d)", uint16(t))
}

// IsError reports an error type: one that, in a response, says the
// request failed (RFC 7296 §3.10.1).
func (t NotifyType) IsError() bool { return t < NotifyStatusFirst }

// Notify is the Notify payload (RFC 7296 §3.10):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Protocol ID  |   SPI Size    |      Notify Message Type      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                Security Parameter Index (SPI)                 ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Notification Data                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Decode checks only this layout; Validate checks what the notify's type
// requires of its fields, and the exchange code calls it on the
// notifications it acts on.
type Notify struct {
	Protocol   ProtocolID
	NotifyType NotifyType
	SPI        []byte
	Data       []byte
}

const notifyHeaderLen = 4

func (*Notify) Type() PayloadType { return PayloadNotify }

func (n *Notify) Encode(b []byte) ([]byte, error) {
	if len(n.SPI) > 0xff {
		return nil, cannotEncode("notify SPI of %d bytes", len(n.SPI))
	}
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(n.NotifyType))
	b = append(b, n.SPI...)
	return append(b, n.Data...), nil
}

func (n *Notify) Decode(body []byte) error {
	if len(body) < notifyHeaderLen {
		return truncated("notify payload of %d bytes", len(body))
	}
	n.Protocol = ProtocolID(body[0])
	spiSize := int(body[1])
	n.NotifyType = NotifyType(binary.BigEndian.Uint16(body[2:]))
	body = body[notifyHeaderLen:]
	if spiSize > len(body) {
		return truncated("%v with a %d-byte SPI, %d bytes left", n.NotifyType, spiSize, len(body))
	}
	n.SPI, n.Data = body[:spiSize:spiSize], body[spiSize:]
	return nil
}

// NewNotify returns a notification that is not about a particular SA:
// protocol 0, no SPI (RFC 7296 §3.10).
func NewNotify(t NotifyType, data []byte) *Notify {
	return &Notify{NotifyType: t, Data: data}
}

// NewChildSANotify returns a notification about the AH or ESP SA with the
// given SPI, as REKEY_SA, INVALID_SELECTORS and CHILD_SA_NOT_FOUND are
// (RFC 7296 §3.10).
func NewChildSANotify(t NotifyType, protocol ProtocolID, spi uint32, data []byte) *Notify {
	return &Notify{Protocol: protocol, NotifyType: t, SPI: binary.BigEndian.AppendUint32(nil, spi), Data: data}
}

// SPI32 returns the 4-byte SPI of a notification about an AH or ESP SA.
func (n *Notify) SPI32() (uint32, bool) {
	if len(n.SPI) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(n.SPI), true
}

// Validate checks the fields RFC 7296 and its extensions fix for the
// notification's type. A notification that fails it is malformed
// (ErrMalformed); one that passes it can be acted on.
//
// REKEY_SA, INVALID_SELECTORS and CHILD_SA_NOT_FOUND name a Child SA: the
// protocol must be AH or ESP and the SPI 4 bytes (§3.10: "the SPI is
// included only with INVALID_SELECTORS, REKEY_SA, and
// CHILD_SA_NOT_FOUND"; for those the Protocol ID is "either (2) to
// indicate AH or (3) to indicate ESP"). Every other type is sent without
// an SPI, and its Protocol ID is ignored (§3.10: "If the SPI field is
// empty, this field MUST be sent as zero and MUST be ignored on
// receipt"); an SPI is tolerated where the RFC does not forbid one.
func (n *Notify) Validate() error {
	fail := func(format string, args ...any) error {
		return malformed("%v: %s", n.NotifyType, fmt.Sprintf(format, args...))
	}
	switch n.NotifyType {
	case NotifyRekeySA, NotifyInvalidSelectors, NotifyChildSANotFound:
		if n.Protocol != ProtocolAH && n.Protocol != ProtocolESP {
			return fail("protocol %v, want AH or ESP", n.Protocol)
		}
		if len(n.SPI) != 4 {
			return fail("%d-byte SPI, want 4", len(n.SPI))
		}
	}
	if rule, ok := notifyDataRules[n.NotifyType]; ok && !rule.ok(len(n.Data)) {
		return fail("%d bytes of data, want %s", len(n.Data), rule.want)
	}
	return nil
}

// notifyDataRules are the Notification Data lengths that RFC 7296 (§2.6,
// §2.23, §3.10.1), RFC 4478, RFC 4555 and RFC 7427 fix.
var notifyDataRules = map[NotifyType]struct {
	ok   func(int) bool
	want string
}{
	NotifyUnsupportedCriticalPayload: {dataLen(1), "1 byte (the payload type)"},
	NotifyInvalidKEPayload:           {dataLen(2), "2 bytes (the accepted DH group)"},
	NotifyNATDetectionSourceIP:       {dataLen(sha1.Size), "a 20-byte SHA-1 hash"},
	NotifyNATDetectionDestinationIP:  {dataLen(sha1.Size), "a 20-byte SHA-1 hash"},
	NotifyCookie:                     {func(n int) bool { return n >= 1 && n <= 64 }, "1 to 64 bytes"},
	NotifySetWindowSize:              {dataLen(4), "4 bytes"},
	NotifyAuthLifetime:               {dataLen(4), "4 bytes"},
	NotifyAdditionalIP4Address:       {dataLen(4), "4 bytes"},
	NotifyAdditionalIP6Address:       {dataLen(16), "16 bytes"},
	NotifySignatureHashAlgorithms:    {func(n int) bool { return n%2 == 0 }, "a list of 2-byte hash algorithm IDs"},
}

func dataLen(want int) func(int) bool { return func(got int) bool { return got == want } }

// InvalidKEGroup returns the DH group an INVALID_KE_PAYLOAD asks for
// (RFC 7296 §1.2).
func (n *Notify) InvalidKEGroup() (uint16, error) {
	if n.NotifyType != NotifyInvalidKEPayload || len(n.Data) != 2 {
		return 0, malformed("not an INVALID_KE_PAYLOAD with a 2-byte group")
	}
	return binary.BigEndian.Uint16(n.Data), nil
}

// WindowSize returns a SET_WINDOW_SIZE's window (RFC 7296 §2.3).
func (n *Notify) WindowSize() (uint32, error) {
	if n.NotifyType != NotifySetWindowSize || len(n.Data) != 4 {
		return 0, malformed("not a SET_WINDOW_SIZE with 4 bytes")
	}
	return binary.BigEndian.Uint32(n.Data), nil
}

// HashAlgorithms returns a SIGNATURE_HASH_ALGORITHMS list (RFC 7427 §4).
func (n *Notify) HashAlgorithms() ([]uint16, error) {
	if n.NotifyType != NotifySignatureHashAlgorithms || len(n.Data)%2 != 0 {
		return nil, malformed("not a SIGNATURE_HASH_ALGORITHMS with 2-byte entries")
	}
	algorithms := make([]uint16, 0, len(n.Data)/2)
	for d := n.Data; len(d) >= 2; d = d[2:] {
		algorithms = append(algorithms, binary.BigEndian.Uint16(d))
	}
	return algorithms, nil
}
