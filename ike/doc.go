// Package ike is espd's IKEv2 engine (RFC 7296): the IKE SA, its task
// manager and one task per exchange concern, in the manner of strongSwan's
// libcharon (sa/ikev2/task_manager_v2.c and tasks/).
//
// The engine owns no socket. The Manager (manager.go) holds a daemon's IKE
// SAs: it routes each received datagram to its SA by our SPI, makes a
// responder for a new IKE_SA_INIT whose addresses match a connection,
// demands a COOKIE when too many SAs are half-open (§2.6), and starts and
// stops SAs by connection or child name. Each SA transmits through
// Config.Send and programs the data plane only through
// installer.Installer. Time comes from a Clock, so tests drive
// retransmissions with a FakeClock.
//
// A connection's life:
//
//  1. IKE_SA_INIT (ikeinit.go): SA, KE and Nonce; the responder picks the
//     first of its configured proposals that the initiator offers, asks for
//     another group with INVALID_KE_PAYLOAD (the initiator retries with it),
//     or refuses with NO_PROPOSAL_CHOSEN. Both derive SKEYSEED and the SK_*
//     keys (§2.14). Beside it in the same exchange: NAT detection
//     (natd.go, §2.23), after which IKE moves to port 4500 and the
//     CHILD_SAs are UDP-encapsulated; the signature hashes of RFC 7427 and
//     CERTREQ (sighash.go); IKE fragmentation support (fragment.go).
//  2. IKE_AUTH (ikeauth.go, childcreate.go): IDs and AUTH payloads (§2.15)
//     with the PSK or a certificate's key (ike/pubkey, RFC 7427), then the
//     first CHILD_SA: ESP proposal, narrowed traffic selectors
//     (§2.9), KEYMAT from IKE_SA_INIT's nonces (§2.17), and both SAs
//     installed through the Installer. INITIAL_CONTACT goes to the owner.
//  3. CREATE_CHILD_SA (§1.3): more CHILD_SAs (childcreate.go, StartChild),
//     CHILD_SA rekeys with REKEY_SA and optional PFS, make-before-break
//     (childrekey.go), IKE SA rekeys that make a new *IKESA and move the
//     CHILD_SAs to it (ikerekey.go), each with the simultaneous-rekey rules
//     of §2.8 and the TEMPORARY_FAILURE and CHILD_SA_NOT_FOUND of §2.25.
//  4. INFORMATIONAL (§1.4, informational.go, delete.go): liveness checks
//     and the Deletes of CHILD_SAs and of the IKE SA.
//  5. Timers on the Clock (lifetimes.go, dpd.go): CHILD_SA soft and hard
//     lifetimes (and the data plane's byte and packet limits through
//     HandleEvent), the IKE SA's rekey time, dead peer detection.
//
// The owner hears of IKE SAs that a rekey makes and of SAs that go through
// an Observer, so that it can route datagrams by SPI; Status is a snapshot
// for `espd status`.
//
// taskmanager.go keeps message IDs, one request outstanding each way
// (§2.3), retransmits the last request with strongSwan's timing and answers
// a retransmitted request with the cached response, never sealing a message
// twice. Once both peers announced IKE fragmentation in IKE_SA_INIT (RFC
// 7383, fragment.go), a protected message larger than Config.FragmentSize
// travels as SKF fragments, and the peer's are reassembled per slot.
//
// Locking: an SA locks only itself, and a new SA that its rekey made while
// it holds its own lock, never the other way round; whatever leaves the SA
// (datagrams, Observer and OnInitialContact calls) leaves after the lock is
// released. The Manager takes its own lock before an SA's, never after.
package ike
