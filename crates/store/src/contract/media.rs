//! The media catalog: rows name whole files, a repeated copy replaces its row, the sweep
//! finds what is due soonest first, and a file is marked deleted once.

use vidgate_domain::RequestId;

use super::{HOUR, T0};
use crate::{MediaObject, MediaTotals, Store};

fn object(id: RequestId, variant: &str, size: i64, expires_at: Option<i64>) -> MediaObject {
    MediaObject {
        request_id: id,
        key_id: "k1".into(),
        variant: variant.into(),
        object_key: format!("k1/{id}/{variant}"),
        content_type: if variant == "cover" { "image/jpeg" } else { "video/mp4" }.into(),
        size,
        sha256: format!("{size:064x}"),
        source_url: Some(format!("https://cdn.example/{id}/{variant}")),
        stored_at: T0,
        expires_at,
        deleted_at: None,
    }
}

pub async fn media_rows_replace_on_recopy_expire_in_order_and_delete_once(store: &dyn Store) {
    let (a, b) = (RequestId::new(), RequestId::new());
    assert!(store.media_of(a).await.unwrap().is_empty());
    store.record_media(object(a, "video", 3_000_000_000, Some(T0 + 2 * HOUR))).await.unwrap();
    store.record_media(object(a, "cover", 20_000, Some(T0 + 2 * HOUR))).await.unwrap();
    store.record_media(object(b, "video", 500, Some(T0 + HOUR))).await.unwrap();
    store.record_media(object(b, "cover", 7, None)).await.unwrap();
    let rows = store.media_of(a).await.unwrap();
    assert_eq!(
        rows,
        vec![
            object(a, "cover", 20_000, Some(T0 + 2 * HOUR)),
            object(a, "video", 3_000_000_000, Some(T0 + 2 * HOUR))
        ]
    );
    assert_eq!(
        store.media_totals().await.unwrap(),
        MediaTotals { files: 4, bytes: 3_000_000_000 + 20_000 + 500 + 7 }
    );

    // Nothing is due before its time; then soonest first, within the limit.
    assert!(store.expired_media(T0, 10).await.unwrap().is_empty());
    let due = store.expired_media(T0 + 3 * HOUR, 2).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!((due[0].request_id, due[0].variant.as_str()), (b, "video"));
    assert_eq!(due[1].request_id, a);

    assert!(store.mark_media_deleted(b, "video", T0 + 3 * HOUR).await.unwrap());
    assert!(!store.mark_media_deleted(b, "video", T0 + 4 * HOUR).await.unwrap(), "once");
    assert!(!store.mark_media_deleted(b, "none", T0).await.unwrap());
    let gone = store.media_of(b).await.unwrap();
    assert_eq!(gone[1].deleted_at, Some(T0 + 3 * HOUR));
    assert_eq!(store.expired_media(T0 + 3 * HOUR, 10).await.unwrap().len(), 2, "a's two files");

    // A copy made again after a crash replaces the row, deleted or not.
    let mut again = object(b, "video", 600, Some(T0 + 5 * HOUR));
    again.stored_at = T0 + HOUR;
    store.record_media(again.clone()).await.unwrap();
    assert_eq!(store.media_of(b).await.unwrap()[1], again);
    assert_eq!(store.media_totals().await.unwrap().files, 4);
}
