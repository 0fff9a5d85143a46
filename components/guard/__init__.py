"""What stands between a client and the server: the files and folders a client may name, the
keys kept per tab, the HTTP guard in front of every route, what a client may make the server write,
and links fetched for it."""
