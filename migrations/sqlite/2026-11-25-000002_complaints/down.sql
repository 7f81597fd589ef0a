DROP TABLE complaint_events;
DROP TABLE extension_requests;
DROP TABLE complaint_assignments;
DROP TABLE clock_pauses;
DROP TABLE complaint_clocks;
DROP TABLE complaints;
DROP TABLE tracking_counters;
