// Misbehaving sandbox child: it starts and then never says HELLO (as a child whose plugin's init is still running).
setInterval(() => {}, 1000);
