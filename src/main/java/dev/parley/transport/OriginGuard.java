package dev.parley.transport;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Refuses cross-site connections with 403 before any transport sees them. A request that carries an
 * {@code Origin} header passes when that origin is listed in {@code http.allowedOrigins} ({@code "*"}
 * allows any) or is the server's own: one of {@code http.publicOrigins} when those are configured, else
 * the same host and port as the request's {@code Host} header. Comparing with {@code Host} cannot stop DNS
 * rebinding (a page whose name the attacker re-points at this server sends matching {@code Origin} and
 * {@code Host}); naming the public origins does. Requests without {@code Origin} (non-browser clients)
 * pass: the check protects browsers' users from other sites, it is not authentication.
 */
public final class OriginGuard implements Handler<RoutingContext> {

  private final Set<String> allowed;
  private final boolean any;
  private final boolean sameHost;

  /**
   * @param allowedOrigins other sites allowed to connect ({@code http.allowedOrigins})
   * @param publicOrigins  the origins this server is served under ({@code http.publicOrigins}); when empty,
   *                       an origin matching the request's {@code Host} counts as the server's own
   */
  public OriginGuard(List<String> allowedOrigins, List<String> publicOrigins) {
    this.allowed = java.util.stream.Stream.concat(allowedOrigins.stream(), publicOrigins.stream())
      .map(OriginGuard::normalize).collect(Collectors.toUnmodifiableSet());
    this.any = allowedOrigins.contains("*");
    this.sameHost = publicOrigins.isEmpty();
  }

  /**
   * A browser sends {@code Origin: null} for a form it posts from a page whose referrer policy is
   * {@code no-referrer}, as the chat page's is (SockJS's jsonp-polling sends that way); its
   * {@code Sec-Fetch-Site}, which no page can set, still says whether the page was this server's own.
   */
  private static boolean sameOriginNull(RoutingContext ctx, String origin) {
    return "null".equals(origin) && "same-origin".equals(ctx.request().getHeader("Sec-Fetch-Site"));
  }

  @Override
  public void handle(RoutingContext ctx) {
    String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
    if (origin == null || any || permitted(origin, ctx.request().getHeader(HttpHeaders.HOST)) || sameOriginNull(ctx, origin)) {
      ctx.next();
    } else {
      ctx.response().setStatusCode(403).putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; charset=utf-8")
        .end("origin not allowed: " + origin.replaceAll("[^\\x20-\\x7e]", "?"));
    }
  }

  boolean permitted(String origin, String host) {
    String o = normalize(origin);
    if (allowed.contains(o)) {
      return true;
    }
    if (!sameHost) {
      return false;
    }
    try {
      URI uri = URI.create(o);
      if (uri.getHost() == null || host == null) {
        return false;
      }
      String originHostPort = uri.getHost() + (uri.getPort() == -1 ? defaultPort(uri.getScheme()) : ":" + uri.getPort());
      String h = host.toLowerCase(Locale.ROOT);
      String hostWithPort = h.contains(":") && !h.endsWith("]") ? h : h + defaultPort(uri.getScheme());
      return originHostPort.equals(hostWithPort);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static String defaultPort(String scheme) {
    return "https".equalsIgnoreCase(scheme) ? ":443" : ":80";
  }

  private static String normalize(String origin) {
    String o = origin.trim().toLowerCase(Locale.ROOT);
    return o.endsWith("/") ? o.substring(0, o.length() - 1) : o;
  }
}
