ALTER TABLE "cases" ADD COLUMN "reminders_sent" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "cases" ADD COLUMN "provider_silent_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "bounce" text;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "bounced_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "receipt_reply_id" integer;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "done_reply_id" integer;--> statement-breakpoint
-- Tasks from before this migration were answered one mail (or task) at a time: not named again.
UPDATE "tasks" SET "receipt_reply_id" = -1, "done_reply_id" = CASE WHEN "status" = 'done' THEN -1 END;
