DROP TABLE attachment_chunks;
DROP TABLE attachment_blobs;
