// Package ike is espd's IKEv2 engine (RFC 7296): the IKE SA, its task
// manager and one task per exchange concern, in the manner of strongSwan's
// libcharon (sa/ikev2/task_manager_v2.c and tasks/).
//
// The engine owns no socket. The daemon hands each received IKE datagram to
// IKESA.HandleDatagram and transmits what the SA gives to Config.Send; it
// programs the data plane only through installer.Installer. Time comes from
// a Clock, so tests drive retransmissions with a FakeClock.
//
// A connection, as this first cut runs it:
//
//  1. IKE_SA_INIT (ikeinit.go): SA, KE and Nonce; the responder picks the
//     first of its configured proposals that the initiator offers, asks for
//     another group with INVALID_KE_PAYLOAD (the initiator retries with it),
//     or refuses with NO_PROPOSAL_CHOSEN. Both derive SKEYSEED and the SK_*
//     keys (§2.14).
//  2. IKE_AUTH (ikeauth.go, childcreate.go): IDs and PSK AUTH payloads
//     (§2.15), then the first CHILD_SA: ESP proposal, narrowed traffic
//     selectors (§2.9), KEYMAT from IKE_SA_INIT's nonces (§2.17), and both
//     SAs installed through the Installer.
//
// taskmanager.go keeps message IDs, retransmits the last request with
// strongSwan's timing and answers a retransmitted request with the cached
// response, never sealing a message twice.
package ike
