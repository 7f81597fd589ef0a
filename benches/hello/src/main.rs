//! actix-web's hello-world, the baseline the load benchmark divides by:
//!
//!   anshang-bench-hello PORT WORKERS [SIZE...]
//!
//! `GET /` answers "Hello world!"; `GET /bytes/SIZE` answers a JSON body of exactly SIZE bytes,
//! built once at start, so that a read endpoint is compared with a server sending as many bytes
//! and doing nothing else.

use actix_web::{web, App, HttpResponse, HttpServer};

/// A JSON string of exactly `size` bytes (at least 2: the quotes).
fn body_of(size: usize) -> web::Bytes {
    let mut s = String::with_capacity(size);
    s.push('"');
    s.extend(std::iter::repeat_n('x', size.saturating_sub(2)));
    s.push('"');
    web::Bytes::from(s)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: anshang-bench-hello PORT WORKERS [SIZE...]";
    let port: u16 = args.first().and_then(|p| p.parse().ok()).expect(usage);
    let workers: usize = args.get(1).and_then(|w| w.parse().ok()).expect(usage);
    let bodies: Vec<(usize, web::Bytes)> =
        args[2..].iter().map(|s| s.parse::<usize>().expect(usage)).map(|n| (n, body_of(n))).collect();
    let bodies = web::Data::new(bodies);
    HttpServer::new(move || {
        App::new()
            .app_data(bodies.clone())
            .route("/", web::get().to(|| async { "Hello world!" }))
            .route(
                "/bytes/{size}",
                web::get().to(|size: web::Path<usize>, bodies: web::Data<Vec<(usize, web::Bytes)>>| async move {
                    match bodies.iter().find(|(n, _)| *n == *size) {
                        Some((_, body)) => HttpResponse::Ok().content_type("application/json").body(body.clone()),
                        None => HttpResponse::NotFound().finish(),
                    }
                }),
            )
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
