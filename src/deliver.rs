//! The network side of `pool notify`: webhooks by HTTP POST (ureq) and e-mail by SMTP
//! (lettre; STARTTLS or TLS as the URL says), both over rustls with the system's trusted
//! CAs (`crate::tls`), each tried a few times with a doubling wait. Error messages never
//! quote the target (a robot's URL holds its key, an SMTP URL its password).
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{SmtpTransport, Transport};

use crate::app::notify::{Courier, Delivered, Message};
use crate::domain::notify::{backoff_ms, robot_refused};

/// Why one attempt failed: worth another try, or not.
enum Fail {
    Retry(String),
    Permanent(String),
}

/// The real courier.
pub struct Net {
    /// Tries per message (at least 1).
    pub attempts: u32,
    /// The wait before the second try; doubled for each one after.
    pub backoff_ms: u64,
    /// Per connection and request.
    pub timeout: Duration,
}

impl Net {
    fn post(&self, url: &str, body: &serde_json::Value) -> Result<(), Fail> {
        let tls =
            crate::tls::system_client().map_err(|e| Fail::Permanent(format!("TLS setup: {e}")))?;
        let agent = ureq::AgentBuilder::new()
            .timeout(self.timeout)
            .tls_config(Arc::new(tls))
            .redirects(0)
            .build();
        match agent
            .post(url)
            .set("Content-Type", "application/json; charset=utf-8")
            .send_string(&body.to_string())
        {
            Ok(resp) => {
                let text = resp.into_string().unwrap_or_default();
                // 企业微信 and 钉钉 answer 200 with an errcode when they refuse.
                match robot_refused(&text) {
                    Some(why) => Err(Fail::Retry(format!("the robot refused: {why}"))),
                    None => Ok(()),
                }
            }
            Err(ureq::Error::Status(code, _)) if code >= 500 || code == 429 => {
                Err(Fail::Retry(format!("HTTP {code}")))
            }
            Err(ureq::Error::Status(code, _)) => Err(Fail::Permanent(format!("HTTP {code}"))),
            // Kind and message only: the transport error's own text names the URL. A
            // failed connection adds its cause (a refused certificate, a refused
            // connection), which does not.
            Err(ureq::Error::Transport(t)) => {
                let cause = match (t.kind(), std::error::Error::source(&t)) {
                    (ureq::ErrorKind::ConnectionFailed, Some(e)) => format!(": {e}"),
                    _ => String::new(),
                };
                Err(Fail::Retry(format!(
                    "{}{}{cause}",
                    t.kind(),
                    t.message().map(|m| format!(": {m}")).unwrap_or_default()
                )))
            }
        }
    }

    fn mail(
        &self,
        smtp: &str,
        from: &str,
        to: &str,
        subject: &str,
        text: &str,
    ) -> Result<(), Fail> {
        let bad = |what: &str| Fail::Permanent(format!("not an e-mail address: {what}"));
        let from: Mailbox = from.parse().map_err(|_| bad("the sender"))?;
        let to: Mailbox = to.parse().map_err(|_| bad("the recipient"))?;
        // Base64: safe through any relay, whatever the text's script and line lengths.
        let body = Body::new_with_encoding(text.to_string(), ContentTransferEncoding::Base64)
            .unwrap_or_else(Body::new);
        let part = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let msg = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .singlepart(part)
            .map_err(|e| Fail::Permanent(format!("the message: {e}")))?;
        let transport = SmtpTransport::from_url(smtp)
            .map_err(|_| Fail::Permanent("the SMTP URL is not one lettre understands".into()))?
            .timeout(Some(self.timeout))
            .build();
        match transport.send(&msg) {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Fail::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(Fail::Retry(format!("SMTP: {e}"))),
        }
    }
}

impl Courier for Net {
    fn send(&self, m: &Message) -> Delivered {
        let attempts = self.attempts.max(1);
        let mut last = String::new();
        for n in 1..=attempts {
            std::thread::sleep(Duration::from_millis(backoff_ms(n, self.backoff_ms)));
            let r = match m {
                Message::Webhook { url, body } => self.post(url, body),
                Message::Mail {
                    smtp,
                    from,
                    to,
                    subject,
                    text,
                } => self.mail(smtp, from, to, subject, text),
            };
            match r {
                Ok(()) => {
                    return Delivered {
                        attempts: n,
                        error: None,
                    }
                }
                Err(Fail::Permanent(e)) => {
                    return Delivered {
                        attempts: n,
                        error: Some(e),
                    }
                }
                Err(Fail::Retry(e)) => last = e,
            }
        }
        Delivered {
            attempts,
            error: Some(last),
        }
    }
}
