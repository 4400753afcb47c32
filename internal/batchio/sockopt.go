//go:build linux

package batchio

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SocketBufferSize is what Tune asks for as SO_RCVBUF and SO_SNDBUF: several
// full batches of maximum-size packets, so that a burst or a reader that is
// briefly descheduled does not overflow the socket queue.
const SocketBufferSize = 8 << 20

// Tune sets the options every ESP transport socket wants. A non-zero mark is
// set as SO_MARK and failing to set it is an error, because policy routing
// (keeping ESP out of the tunnel it carries) depends on it. The buffer sizes
// are best effort: SO_RCVBUFFORCE/SO_SNDBUFFORCE need CAP_NET_ADMIN; without
// it the kernel caps SO_RCVBUF/SO_SNDBUF at net.core.rmem_max/wmem_max.
func Tune(rc syscall.RawConn, mark uint32) error {
	var markErr error
	err := rc.Control(func(fd uintptr) {
		s := int(fd)
		if mark != 0 {
			if e := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); e != nil {
				markErr = fmt.Errorf("SO_MARK %#x: %w", mark, e)
			}
		}
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, SocketBufferSize) != nil {
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, SocketBufferSize)
		}
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, SocketBufferSize) != nil {
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, SocketBufferSize)
		}
	})
	if err != nil {
		return err
	}
	return markErr
}

// Mark reads the socket's SO_MARK.
func Mark(rc syscall.RawConn) (uint32, error) {
	var mark int
	var getErr error
	if err := rc.Control(func(fd uintptr) {
		mark, getErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK)
	}); err != nil {
		return 0, err
	}
	return uint32(mark), getErr
}

// gsoControlLen bounds the control message that carries the UDP_SEGMENT
// size: a cmsghdr and a uint16, aligned, is 24 bytes on 64-bit Linux and 16
// on 32-bit (TestGSOControlLen checks unix.CmsgSpace(2) fits).
const gsoControlLen = 24

// putGSOSize writes the UDP_SEGMENT control message (udp(7)) for segments of
// size bytes.
func putGSOSize(ctrl *[gsoControlLen]byte, size int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(ctrl[unix.CmsgLen(0):], uint16(size))
}

// SupportsGSO reports whether the kernel knows UDP_SEGMENT (Linux 4.18):
// reading the option succeeds where it does.
func SupportsGSO(rc syscall.RawConn) bool {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		_, err = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	}); cerr != nil {
		return false
	}
	return err == nil
}
