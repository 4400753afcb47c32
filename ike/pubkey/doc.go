// Package pubkey is what the IKE engine needs for certificate and public
// key authentication (RFC 7296 §2.15, RFC 7427): loading keys and
// certificates, signing and verifying AUTH payloads, checking a peer's
// certificate chain against trust anchors, matching its identity, and the
// CERTREQ and SIGNATURE_HASH_ALGORITHMS helpers around them. It is
// stateless and knows nothing about exchanges; the engine builds the
// signed octets (RFC 7296 §2.15) and calls in.
//
// The flow for one peer, in exchange order:
//
//   - IKE_SA_INIT: announce SupportedHashes in SIGNATURE_HASH_ALGORITHMS
//     (EncodeSignatureHashes) and read the peer's (DecodeSignatureHashes).
//   - IKE_AUTH, sending: Sign with the local key, choosing the hash from
//     what the peer announced; send Credentials.CertPayloads and
//     TrustAnchors.CertReqHashes.
//   - IKE_AUTH, receiving: ParseCertPayloads, VerifyChain against the
//     configured CAs, MatchIdentity of IDi/IDr against the leaf, CheckKey
//     and CheckScheme against the auth constraints, then Verify the AUTH
//     payload with the leaf's public key.
//
// Signatures (RFC 7427 §3) are RSASSA-PKCS1-v1_5 and RSASSA-PSS with
// SHA-256/384/512, ECDSA with SHA-256/384/512 and Ed25519 (RFC 8420).
// Verify also takes the classic methods: RSA with SHA-1 (RFC 7296 §3.8)
// and ECDSA over P-256/384/521 (RFC 4754). Crypto comes from the standard
// library only. Nothing here panics on any input.
package pubkey
