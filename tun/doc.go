// Package tun creates the TUN device that carries espd's inner (cleartext)
// packets, configures its link (MTU, addresses, up) and installs the routes
// that steer traffic for remote traffic selectors into it.
//
// The device is golang.zx2c4.com/wireguard/tun's Linux TUN. Package chantun
// is an in-memory Device with the same contract, for tests.
//
// # The device contract, as the data plane sees it
//
// On Linux the wireguard TUN always asks for IFF_VNET_HDR and enables TCP
// (and, from Linux 6.2, UDP) segmentation offload, so:
//
//   - Read(bufs, sizes, offset) does one read(2). A plain packet fills
//     bufs[0][offset:offset+sizes[0]] and n is 1. A TCP or UDP "super packet"
//     the kernel built with GSO is split into segments, one per buffer, so n
//     can be anything up to len(bufs) (a UDP GSO send of 20 segments arrives
//     as one Read with n = 20). Pass len(bufs) == BatchSize(). A super packet
//     with more segments than that returns wgtun.ErrTooManySegments along
//     with n valid segments: use them, count the rest as dropped and keep
//     reading, as wireguard-go does. Every bufs[i] needs
//     len(bufs[i]) >= offset+MTU: the split does not check segment lengths
//     against the buffers. Any offset works for Read.
//
//   - Write(bufs, offset) needs offset >= MinWriteOffset (10): the virtio-net
//     header is written into bufs[i][offset-10:offset]. Each packet is
//     bufs[i][offset:], so slice each buffer to the end of its packet.
//     Packets of one TCP or UDP flow with valid checksums are coalesced (GRO)
//     into the first buffer of the flow: Write appends their payloads into
//     that buffer's spare capacity (replacing the slice header in bufs) and
//     rewrites its IP and transport headers. Buffers are scratch after Write.
//     A caller that wants to keep the memory past a packet's end untouched
//     passes full slice expressions (b[s:e:e]), which disables coalescing.
//     The returned count is not a packet count (the Linux device returns
//     bytes written); use the error, which joins the per-packet failures.
//
//   - BatchSize() is 128 (conn.IdealBatchSize) with IFF_VNET_HDR, else 1.
//
//   - Events() must be drained: the device's monitor goroutines block on the
//     channel (capacity 5) otherwise, and never exit. It is closed by Close.
//
//   - Close unblocks a pending Read, which returns an error matching
//     os.ErrClosed. Closing deletes the interface and with it every route
//     through it (the device is not persistent); rules stay until
//     Router.Close.
//
//   - Read and Write each take a mutex inside the device: one reading and one
//     writing goroutine is all a device can use.
//
// For espd's packet.Buffer that means: read with bufs[i] = b.Bytes[:] and
// offset packet.Headroom (64), then b.SetData(packet.Headroom, sizes[i]);
// write a decapsulated packet (Start >= Headroom) with
// bufs[i] = b.Bytes[b.Start-packet.Headroom:b.End] and offset
// packet.Headroom. With packet.MaxData = 9216 the MTU must not exceed 9216.
// The tests in this package push batches of small packets through a real
// device this way in both directions, IPv4 and IPv6, and check that Write
// leaves the bytes before offset-MinWriteOffset alone.
//
// # Routing
//
// Router puts the routes for remote traffic selectors in their own table
// (DefaultTable) and consults that table, for every packet without espd's
// fwmark (DefaultMark), ahead of the main table: see Router for why. espd's
// IKE and ESP sockets set SO_MARK to the same mark (that code lives with the
// transports), so a selector that covers the peer's own address (0.0.0.0/0,
// ::/0, a transport-mode /32) never captures espd's own packets.
//
// All functions act in the network namespace of the calling OS thread.
package tun
