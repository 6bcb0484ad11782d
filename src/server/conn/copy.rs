//! COPY over the wire: rows in from `COPY ... FROM STDIN`, rows out for `COPY ... TO STDOUT`
//! and for `COPY (SUBSCRIBE ...) TO STDOUT`, which streams until canceled.

use bytes::Bytes;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::PgWireBackendMessage as B;
use pgwire::messages::PgWireFrontendMessage as F;
use tokio::io::AsyncReadExt;

use super::{canceled, subscribe_rows, Conn, Outcome};
use crate::coord::{Response, Subscription};
use crate::error::SqlError;
use crate::plan::{CopyFormat, CopyPlan};
use crate::server::copy::{encode_row, header, CopyDecoder};
use crate::server::describe::subscribe_desc;

/// Rows per CopyData message on the way out.
const ROWS_PER_MESSAGE: usize = 256;

impl Conn {
    pub(super) async fn copy(&mut self, plan: CopyPlan) -> Result<Outcome, SqlError> {
        match plan {
            CopyPlan::From {
                id,
                desc,
                columns,
                format,
            } => {
                let n = columns.len() as i16;
                self.send(B::CopyInResponse(CopyInResponse::new(
                    0,
                    n,
                    vec![0; n as usize],
                )))?;
                self.flush().await?;
                let mut decoder = CopyDecoder::new(&format, &desc, &columns);
                loop {
                    match self.read().await? {
                        Some(F::CopyData(d)) => decoder.feed(&d.data)?,
                        Some(F::CopyDone(_)) => break,
                        Some(F::CopyFail(f)) => {
                            return Err(SqlError::new(
                                "57014",
                                format!("COPY from stdin failed: {}", f.message),
                            ))
                        }
                        // The protocol has clients send these during COPY; they mean nothing here.
                        Some(F::Flush(_)) | Some(F::Sync(_)) => {}
                        Some(other) => {
                            return Err(SqlError::new(
                                "08P01",
                                format!("unexpected message during COPY from stdin: {other:?}"),
                            ))
                        }
                        None => {
                            return Err(SqlError::new(
                                "08006",
                                "client went away during COPY from stdin",
                            ))
                        }
                    }
                }
                let rows = decoder.finish()?;
                let n = rows.len();
                if let Some(durable) = self.coord.append(id, rows)? {
                    durable.await.map_err(|_| {
                        SqlError::new("58030", "the log could not make this COPY durable")
                    })?;
                }
                Ok(Outcome::Tag(format!("COPY {n}")))
            }
            CopyPlan::To { plan, format } => {
                let desc = plan.desc.clone();
                let read = match self
                    .coord
                    .sequence(&self.session, crate::plan::Plan::Select(plan))?
                {
                    Response::Rows(read) => read,
                    _ => return Err(SqlError::internal("COPY's query produced no rows")),
                };
                let rows = tokio::select! {
                    rows = read.rows() => rows?,
                    _ = self.cancel.notified() => return Err(canceled()),
                };
                self.copy_out(&desc, &rows, &format)
            }
        }
    }

    fn copy_out(
        &mut self,
        desc: &crate::repr::RelationDesc,
        rows: &[crate::repr::Row],
        format: &CopyFormat,
    ) -> Result<Outcome, SqlError> {
        let n = desc.arity() as i16;
        self.send(B::CopyOutResponse(CopyOutResponse::new(
            0,
            n,
            vec![0; n as usize],
        )))?;
        if format.header {
            self.send(B::CopyData(CopyData::new(Bytes::from(header(
                desc, format,
            )))))?;
        }
        for chunk in rows.chunks(ROWS_PER_MESSAGE) {
            let mut text = String::new();
            for row in chunk {
                encode_row(row, format, &mut text);
            }
            self.send(B::CopyData(CopyData::new(Bytes::from(text))))?;
        }
        self.send(B::CopyDone(CopyDone::new()))?;
        Ok(Outcome::Tag(format!("COPY {}", rows.len())))
    }

    /// Streams a subscription as COPY out until it ends, is canceled, or the client leaves.
    pub(super) async fn copy_subscribe(
        &mut self,
        mut sub: Subscription,
    ) -> Result<Outcome, SqlError> {
        let desc = subscribe_desc(&sub.desc, sub.progress);
        let text_format = CopyFormat::text();
        let n = desc.arity() as i16;
        self.send(B::CopyOutResponse(CopyOutResponse::new(
            0,
            n,
            vec![0; n as usize],
        )))?;
        self.flush().await?;
        let mut sent = 0usize;
        loop {
            tokio::select! {
                batch = sub.next() => {
                    let batch = match batch {
                        None => break,
                        Some(b) => b?,
                    };
                    let mut text = String::new();
                    for row in subscribe_rows(&batch, sub.progress, sub.desc.arity()) {
                        encode_row(&row, &text_format, &mut text);
                        self.send(B::CopyData(CopyData::new(Bytes::from(std::mem::take(&mut text)))))?;
                        sent += 1;
                    }
                    // Rows go out as soon as their time is complete.
                    self.flush().await?;
                    if batch.upper == u64::MAX { break; }
                }
                _ = self.cancel.notified() => return Err(canceled()),
                read = self.wire.socket.read_buf(&mut self.wire.rbuf) => {
                    match read {
                        Ok(0) | Err(_) => return Err(SqlError::new("08006", "client went away during SUBSCRIBE")),
                        // Messages sent ahead (the extended protocol's Sync) wait in the buffer
                        // until the copy is over.
                        Ok(_) => {}
                    }
                }
            }
        }
        self.send(B::CopyDone(CopyDone::new()))?;
        Ok(Outcome::Tag(format!("COPY {sent}")))
    }
}
