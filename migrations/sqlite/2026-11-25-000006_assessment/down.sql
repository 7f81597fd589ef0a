DROP TABLE assessment_snapshots;
