"""Provider adapters: sans-IO translators between paygate's canonical model and a provider's wire
format. An adapter builds ``httpx.Request`` objects and reads ``httpx.Response`` objects; it never
sends, sleeps, reads the clock or the environment."""
