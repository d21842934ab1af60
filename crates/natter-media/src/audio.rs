//! Opus at 48 kHz mono, 20 ms frames (VoIP application mode).

use crate::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, MediaError};

fn opus_err(e: opus::Error) -> MediaError {
    MediaError::Opus(e.to_string())
}

/// Opus encoder: 48 kHz mono, VoIP mode, 32 kbps, 20 ms frames in, one packet out per frame,
/// with in-band FEC (as negotiated with `useinbandfec=1`): each packet carries a low-rate copy
/// of the previous frame, which a receiver decodes when that frame was lost. Opus adds it only
/// when told to expect loss: 10 % to start with, then what the links report
/// ([`AudioEncoder::set_expected_loss`]).
pub struct AudioEncoder {
    inner: opus::Encoder,
}

impl AudioEncoder {
    pub fn new() -> Result<Self, MediaError> {
        let mut inner =
            opus::Encoder::new(AUDIO_SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip).map_err(opus_err)?;
        inner.set_bitrate(opus::Bitrate::Bits(32_000)).map_err(opus_err)?;
        inner.set_inband_fec(true).map_err(opus_err)?;
        inner.set_packet_loss_perc(10).map_err(opus_err)?;
        Ok(Self { inner })
    }

    /// The loss the worst link reports (0–1): Opus sizes its in-band FEC by it (at least 5 %, so
    /// some protection is always there; at most 40 %).
    pub fn set_expected_loss(&mut self, loss: f64) -> Result<(), MediaError> {
        let percent = (loss * 120.0).round().clamp(5.0, 40.0) as i32;
        self.inner.set_packet_loss_perc(percent).map_err(opus_err)
    }

    /// Encode one 20 ms frame (960 samples).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        if pcm.len() != AUDIO_FRAME_SAMPLES {
            return Err(MediaError::Opus(format!(
                "expected {AUDIO_FRAME_SAMPLES} samples, got {}",
                pcm.len()
            )));
        }
        self.inner.encode_vec(pcm, 1500).map_err(opus_err)
    }
}

/// Opus decoder: 48 kHz mono.
pub struct AudioDecoder {
    inner: opus::Decoder,
}

impl AudioDecoder {
    pub fn new() -> Result<Self, MediaError> {
        Ok(Self {
            inner: opus::Decoder::new(AUDIO_SAMPLE_RATE, opus::Channels::Mono).map_err(opus_err)?,
        })
    }

    /// Decode one packet into PCM (up to 120 ms). An empty packet means "lost": see
    /// [`AudioDecoder::conceal`].
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        if packet.is_empty() {
            return self.conceal();
        }
        let mut out = vec![0i16; AUDIO_FRAME_SAMPLES * 6];
        let n = self.inner.decode(packet, &mut out, false).map_err(opus_err)?;
        out.truncate(n);
        Ok(out)
    }

    /// Rebuild a lost 20 ms frame from the redundant copy that `next`, the packet after it,
    /// carries (Opus in-band FEC); without one in it, Opus conceals instead.
    pub fn recover(&mut self, next: &[u8]) -> Result<Vec<i16>, MediaError> {
        let mut out = vec![0i16; AUDIO_FRAME_SAMPLES];
        let n = self.inner.decode(next, &mut out, true).map_err(opus_err)?;
        out.truncate(n);
        Ok(out)
    }

    /// Packet-loss concealment: 20 ms (960 samples) that continue the signal where a packet is missing.
    pub fn conceal(&mut self) -> Result<Vec<i16>, MediaError> {
        let mut out = vec![0i16; AUDIO_FRAME_SAMPLES];
        let n = self.inner.decode(&[], &mut out, false).map_err(opus_err)?;
        out.truncate(n);
        Ok(out)
    }
}
