// Package replay implements the ESP anti-replay window of RFC 4303 §3.4.3,
// including the extended sequence number (ESN) inference of RFC 4303
// Appendix A2.
//
// # Check, then commit
//
// A receiver must not let a forged packet move its window: only a packet
// whose ICV verified may mark its sequence number as seen (RFC 4303 §3.4.3:
// the receive window is updated only after the ICV verification succeeds).
// Decryption and ICV verification run on parallel workers, so the
// data plane splits the work in two:
//
//  1. Check, before decryption: drop obvious replays and packets older than
//     the window cheaply, and, for ESN, infer the high 32 bits of the sequence
//     number that the ICV (or the AEAD's associated data) must be computed
//     with. Check never modifies the window.
//  2. Commit, after the ICV verified: mark the sequence number as seen and
//     slide the window. Other packets of the same SA may have been committed
//     between Check and Commit (two copies of one packet in the same batch),
//     so Commit checks again and reports a replay by returning false.
//
// Both run in the pipeline's sequential per-SA stage, never concurrently for
// one Window, so a Window holds no lock; it allocates nothing after SetSize.
//
// # Loss of synchronisation
//
// With ESN only the low 32 bits travel on the wire. After a loss of 2^32 or
// more consecutive packets every inferred high half is wrong and every ICV
// fails; RFC 4303 Appendix A3 suggests counting consecutive ICV failures to
// notice this. This package does not resynchronise; the caller counts ICV
// failures per SA and may rekey.
package replay
