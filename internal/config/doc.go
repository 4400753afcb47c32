// Package config loads espd's configuration file: strongSwan's
// swanctl.conf syntax (read by internal/swanctl) with one extra top-level
// section, espd { }, for what only espd has. swanctl ignores unknown
// top-level sections, so the same file loads into strongSwan unchanged.
//
// Of the sections swanctl defines, connections, secrets and authorities
// are decoded (see Connection, Secrets and Authority for the keys espd
// reads) and pools is kept in File.Raw unchecked. Any other top-level key
// or section, and any unknown key or section inside the others, is a
// Warning that names its file and line; it does not stop espd. An invalid
// value is an *Error that names the file, line, dotted key and reason, such
// as
//
//	espd.conf:42: espd.manual.site.inbound.spi: SPI 0 is reserved (...)
//	espd.conf:7: connections.gw-gw.children.net.esp_proposals: invalid ESP proposal "aes128gcm17": ...
//
// and Load reports all of them at once, joined with errors.Join.
//
// # The espd section
//
// testdata/example.conf is a complete, commented example. Every key has a
// default, and a key with nothing after "=" takes it. Numbers are decimal
// or 0x-prefixed hexadecimal (a leading zero does not mean octal).
//
//	espd {
//	    port_nat_t = 4500     # UDP port for ESP-in-UDP (RFC 3948), like
//	                          # charon.port_nat_t; 0 = any free port
//	    fwmark = 0xe5d        # SO_MARK on espd's sockets, so that policy routing
//	                          # keeps them out of the tunnel; 0 = no mark
//	    route_table = 3677    # routing table for the routes into the TUN
//	                          # (not 0, not 255: the kernel's local table)
//	    log_level = info      # debug, info, warn or error
//	    tun {
//	        name = espd0      # at most 15 bytes, no '/', ':' or blanks
//	        mtu = 1400        # 576..9000; >= 1280 once an IPv6 address is set
//	        addrs =           # comma-separated address/prefix-length pairs;
//	                          # a bare address means /32 or /128; default none
//	    }
//	    manual {              # static SAs for tests and benchmarks,
//	        <name> {          # like `ip xfrm state`
//	            local_addrs = 192.0.2.1    # required: one outer address
//	            remote_addrs = 192.0.2.2   # required: one, of the same family
//	            encap = no                 # yes: ESP-in-UDP (RFC 3948);
//	                                       # no: raw IP protocol 50
//	            remote_port = 4500         # only with encap = yes
//	            mode = tunnel              # tunnel or transport
//	            local_ts = 198.18.1.0/24   # comma-separated prefixes or addresses,
//	            remote_ts = 198.18.2.0/24  # host bits clear; default: the outer
//	                                       # address (/32, /128); in transport
//	                                       # mode exactly that
//	            esp_proposals = aes128gcm16  # required: exactly one proposal in
//	                                         # strongSwan's syntax, -esn allowed,
//	                                         # no DH group
//	            replay_window = 32         # packets, 0..65536; 0 = no replay check
//	            rekey_time = 0             # soft and hard lifetimes: s, m, h, d
//	            life_time = 0              # suffixes, plain numbers are seconds
//	            rekey_bytes = 0            # K, M, G suffixes (powers of 1024)
//	            life_bytes = 0
//	            rekey_packets = 0          # plain numbers
//	            life_packets = 0           # 0 = no limit; each rekey_* must be
//	                                       # below its life_* when both are set
//	            inbound {                  # required: the SA we receive on
//	                spi = 0x00001001       # 256..0xffffffff, unique among the
//	                                       # manual SAs' inbound SPIs
//	                enc_key = 0x...        # hex, 0x optional; an AEAD's key
//	                                       # includes its 4-byte salt
//	                integ_key = 0x...      # required iff the cipher is not an AEAD
//	            }
//	            outbound {                 # required: the SA we send with
//	                spi = 0x00002001
//	                enc_key = 0x...
//	                integ_key = 0x...
//	            }
//	        }
//	    }
//	}
//
// Key lengths follow the proposal: aes128gcm16 takes a 20-byte enc_key,
// aes256gcm16 and chacha20poly1305 36 bytes; aes128 and aes256 take 16 and
// 32 bytes, with an integ_key of 32 (sha256), 48 (sha384) or 64 (sha512)
// bytes.
package config
