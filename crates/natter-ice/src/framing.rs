//! STUN and ChannelData over a byte stream (TURN over TCP or TLS, RFC 8656 §12.5, RFC 6062): where
//! one message ends. Shared by the prober (`natter-call`'s health probes) and the TURN-over-
//! TCP/TLS bridge, sans-IO: the callers read the 4 bytes, ask here, read the rest.

/// What the first 4 bytes of a message on the stream announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// A STUN message: `length` bytes in all (20-byte header + attributes), no padding.
    Stun { length: usize },
    /// A ChannelData message: `length` bytes in all (4-byte header + data), followed on a stream
    /// by `padding` bytes up to a multiple of 4.
    ChannelData { length: usize, padding: usize },
    /// Neither (first two bits 10 or 11): not TURN; nothing on this stream can be trusted.
    NotTurn,
}

/// The message that starts with `header` (its first 4 bytes).
pub fn framed(header: [u8; 4]) -> Framed {
    let announced = usize::from(u16::from_be_bytes([header[2], header[3]]));
    match header[0] & 0xC0 {
        0x00 => Framed::Stun { length: 20 + announced },
        0x40 => Framed::ChannelData {
            length: 4 + announced,
            padding: padding_for(announced),
        },
        _ => Framed::NotTurn,
    }
}

/// The bytes to write after `datagram` on a stream: ChannelData is padded to a multiple of 4
/// there (not over UDP); STUN is a multiple of 4 already.
pub fn stream_padding(datagram: &[u8]) -> usize {
    match datagram.first() {
        Some(b) if b & 0xC0 == 0x40 => padding_for(datagram.len()),
        _ => 0,
    }
}

fn padding_for(length: usize) -> usize {
    (4 - length % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_announces_its_attributes_after_a_20_byte_header() {
        // A binding request with 8 bytes of attributes.
        assert_eq!(framed([0x00, 0x01, 0x00, 0x08]), Framed::Stun { length: 28 });
    }

    #[test]
    fn channel_data_is_padded_to_four_bytes_on_a_stream() {
        // Channel 0x4000 with 5 bytes of data: 9 bytes, 3 of padding.
        assert_eq!(
            framed([0x40, 0x00, 0x00, 0x05]),
            Framed::ChannelData { length: 9, padding: 3 }
        );
        assert_eq!(stream_padding(&[0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5]), 3);
        assert_eq!(stream_padding(&[0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]), 0);
        assert_eq!(stream_padding(&[0x00, 0x01, 0x00, 0x00]), 0, "STUN is never padded");
    }

    #[test]
    fn anything_else_is_not_turn() {
        assert_eq!(framed([0x80, 0, 0, 0]), Framed::NotTurn);
        assert_eq!(framed([0xC0, 0, 0, 0]), Framed::NotTurn);
    }
}
